/** First byte of each pgoutput message. */
export enum MessageTag {
  Begin = 0x42, // 'B'
  Message = 0x4d, // 'M'
  Commit = 0x43, // 'C'
  Origin = 0x4f, // 'O'
  Relation = 0x52, // 'R'
  Type = 0x59, // 'Y'
  Insert = 0x49, // 'I'
  Update = 0x55, // 'U'
  Delete = 0x44, // 'D'
  Truncate = 0x54, // 'T'
  StreamStart = 0x53, // 'S'
  StreamStop = 0x45, // 'E'
  StreamCommit = 0x63, // 'c'
  StreamAbort = 0x41, // 'A'
  BeginPrepare = 0x62, // 'b'
  Prepare = 0x50, // 'P'
  CommitPrepared = 0x4b, // 'K'
  RollbackPrepared = 0x72, // 'r'
  StreamPrepare = 0x70, // 'p'
}

/** Markers inside Update / Delete and before each tuple. */
export enum TupleTag {
  New = 0x4e, // 'N'
  Key = 0x4b, // 'K'
  Old = 0x4f, // 'O'
}

/** Kind byte of each tuple column. */
export enum ColumnKind {
  Null = 0x6e, // 'n'
  UnchangedToast = 0x75, // 'u'
  Text = 0x74, // 't'
  Binary = 0x62, // 'b'
}

/** First byte of a CopyData payload in the replication stream. */
export enum FrameTag {
  XLogData = 0x77, // 'w'
  PrimaryKeepalive = 0x6b, // 'k'
  StandbyStatusUpdate = 0x72, // 'r'
}
