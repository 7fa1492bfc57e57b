declare const KUVASZ_VERSION: string;

const HELP = `kuvasz-streamer ${typeof KUVASZ_VERSION === 'string' ? KUVASZ_VERSION : 'dev'}
PostgreSQL change-data-capture streamer (TypeScript port of kuvasz-streamer).

Usage: kuvasz-streamer <command> [options]

Options:
  -h, --help     show this help
  -V, --version  print the version
`;

function main(argv: string[]): number {
  if (argv.includes('-V') || argv.includes('--version')) {
    process.stdout.write(`${typeof KUVASZ_VERSION === 'string' ? KUVASZ_VERSION : 'dev'}\n`);
    return 0;
  }
  if (argv.length === 0 || argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(HELP);
    return 0;
  }
  process.stderr.write(
    `kuvasz-streamer: unknown command '${argv[0]}'; run kuvasz-streamer --help\n`,
  );
  return 2;
}

process.exitCode = main(process.argv.slice(2));
