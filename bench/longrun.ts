/**
 * A long, resumable training run (the 60-epoch stall check, converged comparisons): trains one model on one
 * dataset, writes an epoch checkpoint (atomically) and one JSON line per epoch to `--dir`, and the parameters of
 * every epoch (`params-eNNN.safetensors`, for the stall diagnostics of bench/stall.ts). Started again with the
 * same `--dir` after a kill, it continues from the last completed epoch and ends exactly where an uninterrupted
 * run ends.
 *
 * `--stop-rule E:P` (with `--eval-every 1`) stops the run once the library's early stopping with `evalEvery E` and
 * `patience P` would have stopped it: validation of every epoch is logged, so one run gives the result of every
 * protocol that evaluates a subset of its epochs (evaluation does not touch the trainer's random stream), and
 * bench/converged.ts reads the protocols' results from the logs.
 *
 *   node bench/run.mjs bench/longrun.ts --data ../shared/data/movielens --model irllrec --preset reference \
 *        --epochs 60 --patience 0 --eval-every 1 --seed 2023 --dir bench/results/tmp/ref60
 */
import { existsSync, mkdirSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serializeModel } from '../src/io/modelfile.js';
import { type ModelKind, type ModelConfig, presetFor } from '../src/models/config.js';
import { evaluate } from '../src/train/evaluate.js';
import { parseRunConfig } from '../src/train/runconfig.js';
import { createBackend, loadCheckpoint, loadDatasetDir, resumeFrom, fit, saveCheckpoint, writeFileAtomic } from '../src/node/index.js';
import { adapterOf, load } from './common.js';
import { replay } from './protocol.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    model: { type: 'string', default: 'irllrec' },
    preset: { type: 'string' },
    config: { type: 'string' },
    'run-config': { type: 'string' },
    epochs: { type: 'string', default: '60' },
    patience: { type: 'string', default: '0' },
    'eval-every': { type: 'string', default: '1' },
    seed: { type: 'string', default: '2023' },
    dir: { type: 'string' },
    'keep-params': { type: 'boolean', default: false },
    'log-test': { type: 'boolean', default: false },
    'stop-rule': { type: 'string' },
  },
});
if (!values.data || !values.dir) throw new Error('usage: longrun.ts --data DIR --dir OUT [--model M] [--preset P] [--epochs N] ...');
const dir = values.dir;
mkdirSync(dir, { recursive: true });
const ckptPath = join(dir, 'last.ckpt');
const logPath = join(dir, 'log.jsonl');
const be = await createBackend();
const data = await loadDatasetDir(values.data);
// A run configuration (what `irllrec tune` writes as best.json) gives the model, preset, model settings, lr and batch
// size; the epochs, patience, evaluation interval and seed stay this run's (the protocol's).
const run = values['run-config'] ? parseRunConfig(readFileSync(values['run-config'], 'utf8'), values['run-config']) : null;
const overrides = { ...run?.config, ...(values.config ? (JSON.parse(values.config) as Partial<ModelConfig>) : {}) };
const presetName = values.preset ?? run?.preset;
const presetOpt = presetName ? { preset: presetFor(data.name, presetName) } : {};
const common = {
  model: (run?.model ?? values.model) as ModelKind,
  config: overrides,
  ...presetOpt,
  ...(run?.trainer.lr !== undefined ? { lr: run.trainer.lr } : {}),
  ...(run?.trainer.batchSize !== undefined ? { batchSize: run.trainer.batchSize } : {}),
  epochs: Number(values.epochs),
  patience: Number(values.patience),
  evalEvery: Number(values['eval-every']),
  seed: Number(values.seed),
};
/** Validation Recall@20 per epoch so far (from the log on resume) and the stop rule, if any. */
const valHistory: (number | undefined)[] = [];
const rule = values['stop-rule'] ? values['stop-rule'].split(':').map(Number) : null;
if (rule && (rule.length !== 2 || !rule.every((x) => Number.isInteger(x) && x > 0))) throw new Error(`--stop-rule wants EVERY:PATIENCE, got ${values['stop-rule']}`);
const abort = new AbortController();
let resume = {};
if (existsSync(ckptPath)) {
  const c = await loadCheckpoint(ckptPath);
  resume = resumeFrom(be, data, c, {});
  for (const l of readFileSync(logPath, 'utf8').trim().split('\n').filter(Boolean)) {
    const e = JSON.parse(l) as { epoch: number; val?: Record<string, number> };
    valHistory[e.epoch] = e.val?.['recall@20'];
  }
  process.stderr.write(`longrun: resuming ${dir} at epoch ${c.trainer.epoch}\n`);
} else writeFileSync(logPath, '');
const adapter = adapterOf(be).name;
const r = await fit(be, data, {
  ...common,
  ...resume,
  signal: abort.signal,
  checkpoint: {
    ...(resume as { checkpoint?: object }).checkpoint,
    onCheckpoint: async (state, model, snapshot) => {
      if (values['log-test']) appendFileSync(join(dir, 'test.jsonl'), `${JSON.stringify({ epoch: state.epoch - 1, test: await evaluate(model, data, 'test') })}\n`);
      if (values['keep-params']) await writeFileAtomic(join(dir, `params-e${String(state.epoch).padStart(3, '0')}.safetensors`), await serializeModel(model));
      await saveCheckpoint(ckptPath, model, state, snapshot, data);
      if (rule && replay(valHistory, { name: 'stop rule', every: rule[0], patience: rule[1], maxEpochs: Infinity })) {
        process.stderr.write(`longrun: early stopping (every ${rule[0]}, patience ${rule[1]}) would stop after epoch ${state.epoch - 1}\n`);
        abort.abort();
      }
    },
  },
  onEpoch: (e) => {
    const line = { epoch: e.epoch, seconds: e.seconds, losses: e.losses, val: e.val, improved: e.improved, load: load()[0] };
    appendFileSync(logPath, `${JSON.stringify(line)}\n`);
    valHistory[e.epoch] = e.val?.['recall@20'];
    process.stderr.write(`epoch ${e.epoch} ${e.seconds.toFixed(1)}s bpr ${e.losses.bpr.toFixed(4)} kd ${e.losses.kd.toFixed(4)} kd_int ${e.losses.kd_int.toFixed(4)} val R@20 ${e.val?.['recall@20']?.toFixed(4) ?? '-'}\n`);
  },
});
const result = { adapter, stopRule: values['stop-rule'] ?? null, aborted: r.aborted, dataset: data.name, args: common, config: r.model.config, bestEpoch: r.bestEpoch, stoppedEarly: r.stoppedEarly, val: r.val, test: r.test, history: readFileSync(logPath, 'utf8').trim().split('\n').length };
writeFileSync(join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
process.stderr.write(`done: test recall@20 ${r.test['recall@20']} ndcg@20 ${r.test['ndcg@20']} (best epoch ${r.bestEpoch})\n`);
process.exit(0);
