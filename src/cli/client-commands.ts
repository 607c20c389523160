/** The client's command names, apart from src/cli/client.ts so that a daemon's start does not load it. */
export const CLIENT_COMMANDS = ['get', 'put', 'del', 'nodes', 'cluster', 'stats'] as const;
export type ClientCommand = (typeof CLIENT_COMMANDS)[number];

export function isClientCommand(name: string | undefined): name is ClientCommand {
  return (CLIENT_COMMANDS as readonly string[]).includes(name ?? '');
}
