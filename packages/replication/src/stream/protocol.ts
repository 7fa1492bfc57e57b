import { formatLsn } from '@kuvasz/core';
import pg from 'pg';
import { StreamError } from '../errors.js';
import { replicationLiteral } from '../sql.js';

export type ProtoVersion = 1 | 2 | 3 | 4;

export interface ProtocolRequest {
  protoVersion: 'auto' | ProtoVersion;
  binary: boolean;
  messages: boolean;
  streaming: boolean;
}

/** What START_REPLICATION asks pgoutput for. */
export interface StreamProtocol {
  protoVersion: ProtoVersion;
  /** 'on': in-progress transactions larger than logical_decoding_work_mem arrive in chunks. */
  streaming: 'off' | 'on';
  messages: boolean;
  binary: boolean;
}

const MIN_MAJOR: Record<ProtoVersion, number> = { 1: 10, 2: 14, 3: 15, 4: 16 };

/**
 * The highest protocol the server speaks that a single, sequential consumer
 * can use: 1 on 12-13, 2 with streaming on 14-15, 4 with streaming 'on' on
 * 16+. Version 3 only adds two-phase decoding, which the streamer does not
 * enable (a prepared transaction arrives at COMMIT PREPARED like any other).
 * Version 4 with streaming 'parallel' only adds the abort LSN for parallel
 * apply workers; we apply after the commit, so we ask for 'on'.
 */
export function chooseProtocol(
  serverMajor: number,
  request: ProtocolRequest,
  slot: string,
): StreamProtocol {
  let v: ProtoVersion;
  if (request.protoVersion === 'auto') {
    v = serverMajor >= 16 ? 4 : serverMajor >= 14 ? 2 : 1;
  } else {
    v = request.protoVersion;
    if (![1, 2, 3, 4].includes(v)) {
      throw new StreamError(
        'invalid_argument',
        slot,
        `protoVersion ${String(v)} is not a pgoutput protocol version; use 'auto', 1, 2, 3 or 4`,
      );
    }
    if (serverMajor < MIN_MAJOR[v]) {
      throw new StreamError(
        'invalid_argument',
        slot,
        `pgoutput protocol version ${v} needs PostgreSQL ${MIN_MAJOR[v]}+, but the source runs ${serverMajor}; use protoVersion 'auto'`,
      );
    }
  }
  // The binary and messages options of pgoutput arrived in PostgreSQL 14.
  if (request.binary && serverMajor < 14) {
    throw new StreamError(
      'invalid_argument',
      slot,
      `binary mode needs PostgreSQL 14+, but the source runs ${serverMajor}; set binary: false`,
    );
  }
  return {
    protoVersion: v,
    streaming: request.streaming && v >= 2 ? 'on' : 'off',
    messages: request.messages && serverMajor >= 14,
    binary: request.binary,
  };
}

export function startReplicationCommand(
  slot: string,
  startLsn: bigint,
  publication: string,
  p: StreamProtocol,
): string {
  const options = [
    `proto_version ${replicationLiteral(String(p.protoVersion))}`,
    // publication_names is parsed as a list of identifiers: quote the name.
    `publication_names ${replicationLiteral(pg.escapeIdentifier(publication))}`,
  ];
  if (p.messages) options.push(`messages 'true'`);
  if (p.binary) options.push(`binary 'true'`);
  if (p.streaming === 'on') options.push(`streaming 'on'`);
  return `START_REPLICATION SLOT "${slot}" LOGICAL ${formatLsn(startLsn)} (${options.join(', ')})`;
}
