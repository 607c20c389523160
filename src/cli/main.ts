#!/usr/bin/env node
/**
 * The `lally` command: `lally [options]` runs a node; `lally aof ...` runs the AOF tools;
 * `lally cluster-demo ...` runs a local cluster of nodes in the foreground;
 * `lally get|put|del|nodes|cluster|stats ...` is a client of a running node (src/cli/client.ts).
 * Exit codes: 0 clean stop, 1 runtime failure, 2 bad command line or configuration.
 */
import { loadConfig } from '../config/load-config.js';
import { isClientCommand } from './client-commands.js';
import { runDaemon } from './run-daemon.js';

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'aof') {
    const { runAofCommand } = await import('../aof/cli.js');
    return runAofCommand(argv.slice(1), { stdout: process.stdout, stderr: process.stderr });
  }
  if (argv[0] === 'cluster-demo') {
    const { runClusterDemo } = await import('./cluster-demo.js');
    return runClusterDemo(argv.slice(1), { stdout: process.stdout, stderr: process.stderr });
  }
  if (isClientCommand(argv[0])) {
    const { runClientCommand } = await import('./client.js');
    return runClientCommand(argv[0], argv.slice(1), {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
    });
  }
  const result = await loadConfig(argv, process.env, process.cwd());
  switch (result.kind) {
    case 'help':
    case 'version':
      process.stdout.write(`${result.text}\n`);
      return 0;
    case 'error':
      for (const line of result.errors) process.stderr.write(`lally: ${line}\n`);
      process.stderr.write('lally: see `lally --help`\n');
      return 2;
    case 'run':
      return runDaemon(result.config, result.warnings);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `lally: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
