import path from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { CliCommand } from '../cli/command.js';
import type { ImportRecord } from './import.repository.js';
import { SYSTEM_ACTOR } from '../security/roles.js';
import { formatOfFilename, type ImportPhase } from './import.service.js';

const USAGE = 'import <dataset> <file> [--format csv|parquet] [--mode replace|append]';

/**
 * `npm run quanke -- import customers data/customers.csv`: the same validated, atomic import as
 * the API, with a progress bar. The shell user already has the file system, so any path is allowed.
 */
interface ImportArgs {
  dataset: string;
  file: string;
  format: 'csv' | 'parquet';
  mode: 'replace' | 'append';
}

function parseImportArgs(args: string[]): ImportArgs {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { format: { type: 'string' }, mode: { type: 'string', default: 'replace' } },
  });
  const [dataset, file] = positionals;
  if (!dataset || !file) throw new Error(`usage: ${USAGE}`);
  const format = values.format ?? formatOfFilename(file);
  if (format !== 'csv' && format !== 'parquet') throw new Error('--format must be csv or parquet');
  if (values.mode !== 'replace' && values.mode !== 'append') throw new Error('--mode must be replace or append');
  return { dataset, file: path.resolve(file), format, mode: values.mode };
}

function printRecord(dataset: string, record: Pick<ImportRecord, 'rowsLoaded' | 'durationMs' | 'snapshotVersion'>): void {
  const perSecond = Math.round(record.rowsLoaded / Math.max(record.durationMs / 1000, 0.001));
  console.log(`${dataset}: ${record.rowsLoaded} rows in ${record.durationMs} ms (${perSecond} rows/s), snapshot version ${record.snapshotVersion}`);
}

/**
 * `npm run quanke -- import customers data/customers.csv`: the same validated, atomic import as
 * the API. Directly on the warehouse it reads the file in place with a progress bar (the shell user
 * already has the file system, so any path is allowed); through the running API it streams the file
 * as an upload.
 */
export const importCommand: CliCommand = {
  summary: 'import a CSV or Parquet file into a dataset',
  usage: USAGE,
  needs: 'warehouse',
  async run(args, container) {
    const { dataset, file, format, mode } = parseImportArgs(args);
    const bar = new cliProgress.SingleBar(
      { format: ' {phase} |{bar}| {percentage}% | {duration_formatted}', hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    bar.start(100, 0, { phase: 'reading   ' });
    const onProgress = (phase: ImportPhase, percent: number | undefined) => {
      const overall = phase === 'reading' ? (percent ?? 0) * 0.6 : phase === 'validating' ? 65 : phase === 'loading' ? 80 : 90;
      bar.update(Math.round(overall), { phase: phase.padEnd(10) });
    };
    try {
      const record = await container.imports.importFile(
        { dataset, path: file, format, mode },
        { ...SYSTEM_ACTOR, name: `cli:${process.env.USER ?? 'unknown'}` },
        { trustedPath: true, onProgress },
      );
      bar.update(100, { phase: 'done      ' });
      bar.stop();
      printRecord(dataset, record);
    } catch (error) {
      bar.stop();
      throw error;
    }
  },
  async runViaApi(args, api) {
    const { dataset, file, format, mode } = parseImportArgs(args);
    const query = new URLSearchParams({ dataset, format, mode });
    console.log(`uploading ${file} …`);
    printRecord(dataset, await api.upload(`/v1/imports/upload?${query}`, file));
  },
};
