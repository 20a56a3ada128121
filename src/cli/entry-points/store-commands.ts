import type { Command } from 'commander';
import { reportError } from '../client-command.js';

interface StoreFlags {
  data?: string;
}

function dataDirOf(cmd: Command): string {
  return (cmd.optsWithGlobals() as StoreFlags).data ?? './.canary';
}

function describe(s: { services: number; releases: number; events: number; revision: number; bytes: number }): string {
  return `${s.services} services, ${s.releases} active releases, ${s.events} events, revision ${s.revision}, ${s.bytes} bytes`;
}

/**
 * `canary backup` and `canary restore`: local commands on the control plane's machine, working on the data
 * directory's files (not the API), so that they also work when the control plane cannot start.
 */
export function registerStoreCommands(program: Command): void {
  program
    .command('backup')
    .argument('<file>', 'where to write the backup (a new file)')
    .description("copy the control plane's store (<data>/canary.db) to FILE; safe while it runs")
    .option('--data <dir>', 'data directory (default ./.canary)')
    .addHelpText(
      'after',
      `
Uses SQLite's online backup, so the copy is consistent even while the control plane writes. The file is
written 0600 (it holds every service's command and environment) and checked before the command succeeds.
Traces (traces.db) are not included. Restore with: canary restore FILE --data DIR (docs/operations.md).

Example:
  canary backup /var/backups/canary-$(date +%F).db --data /var/lib/canary`,
    )
    .action(async (file: string, _opts: StoreFlags, cmd: Command) => {
      try {
        const { backupStore } = await import('../../store/store-backup.js');
        const s = await backupStore(dataDirOf(cmd), file);
        process.stdout.write(`backup written to ${file}: ${describe(s)}\n`);
      } catch (err) {
        reportError(err);
      }
    });

  program
    .command('restore')
    .argument('<file>', 'a backup made by canary backup')
    .description("replace the control plane's store (<data>/canary.db) with a backup; the control plane must be stopped")
    .option('--data <dir>', 'data directory (default ./.canary)')
    .addHelpText(
      'after',
      `
The backup is checked first (an intact SQLite file holding a Canary Mesh store this version can run);
a damaged or foreign file changes nothing. Refused while a control plane uses the data directory: stop it,
restore, start it again. The store it replaces stays beside it as canary.db.before-restore-<time>.

Example:
  canary restore /var/backups/canary-2026-12-01.db --data /var/lib/canary`,
    )
    .action(async (file: string, _opts: StoreFlags, cmd: Command) => {
      try {
        const { restoreStore } = await import('../../store/store-backup.js');
        const s = await restoreStore(dataDirOf(cmd), file);
        process.stdout.write(
          `restored ${file} into ${s.file}: ${describe(s)}\n` + (s.previous ? `the store it replaced is kept as ${s.previous}\n` : ''),
        );
      } catch (err) {
        reportError(err);
      }
    });
}
