/**
 * The irllrec demo: train IRLLRec (and LightGCN for comparison) in the page on WebGPU, watch the loss terms
 * and validation metrics live, browse a user's recommendations with the intents that explain them, and
 * build a profile of your own that is personalised on the device.
 *
 * It uses only the public, browser-safe entry (`irllrec`), as an application would. URL parameters preset
 * the form (handy for links and the browser tests):
 *   model=irllrec|lightgcn|both (IRLLRec, the backbone alone, or both)  backbone=lightgcn|sgl|simgcl  epochs=N  batch=N  lr=x  evalEvery=N  steps=N (stop after N steps per model)
 *   seed=N  user=N  autostart=1 (train on load)  webgpu=off (hide navigator.gpu: shows the CPU fallback)
 *   backend=cpu (use the CPU twins on purpose: on a software adapter they are often faster than emulated WebGPU)
 *
 * A lost GPU device (driver reset, another owner destroying it, or `window.__irllrecDemo.loseDevice()`) is
 * recovered in place, without reloading the page: a new backend is created, every served model is rebuilt
 * from its host copy (the same model-file bytes 'Download model' saves), and a training run in progress
 * resumes from its last per-epoch checkpoint, kept on the host.
 */
import {
  type Backend,
  CpuBackend,
  type CpuArray,
  type Dataset,
  type Explanation,
  type FitCheckpointOptions,
  type EpochReport,
  type FitResult,
  IrllrecError,
  LOSS_NAMES,
  type LoadOptions,
  type LossComponents,
  type ModelKind,
  type PersonalizedUser,
  type RecModel,
  type Recommendation,
  Recommender,
  type StepReport,
  type Tensor,
  type TrainingCheckpoint,
  WebGpuBackend,
  captureCheckpoint,
  createBackend,
  datasetFromFiles,
  fit,
  MODEL_LABELS,
  hashU32,
  parseModelFile,
  resumeFrom,
  serializeModel,
  syntheticDataset,
  userItemCsr,
} from 'irllrec';
import { LineChart, type Series } from './chart.js';

// ───────────────────────────── DOM helpers ─────────────────────────────

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`demo: #${id} is missing from index.html`);
  return e as T;
}

type Child = Node | string | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') e.className = String(v);
    else if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

const ui = {
  backendKind: byId('backend-kind'),
  adapterName: byId('adapter-name'),
  adapterDetail: byId('adapter-detail'),
  notice: byId('webgpu-notice'),
  deviceNotice: byId('device-notice'),
  error: byId('error'),
  form: byId<HTMLFormElement>('train-form'),
  dataSummary: byId('data-summary'),
  useSynthetic: byId<HTMLButtonElement>('use-synthetic'),
  fileInput: byId<HTMLInputElement>('file-input'),
  dirInput: byId<HTMLInputElement>('dir-input'),
  modelIrllrec: byId<HTMLInputElement>('model-irllrec'),
  modelLightgcn: byId<HTMLInputElement>('model-lightgcn'),
  backbone: byId<HTMLSelectElement>('backbone'),
  baselineName: byId('baseline-name'),
  epochs: byId<HTMLInputElement>('epochs'),
  batchSize: byId<HTMLInputElement>('batch-size'),
  lr: byId<HTMLInputElement>('lr'),
  evalEvery: byId<HTMLInputElement>('eval-every'),
  maxSteps: byId<HTMLInputElement>('max-steps'),
  seed: byId<HTMLInputElement>('seed'),
  trainBtn: byId<HTMLButtonElement>('train-btn'),
  stopBtn: byId<HTMLButtonElement>('stop-btn'),
  downloadBtn: byId<HTMLButtonElement>('download-btn'),
  progress: byId<HTMLProgressElement>('progress'),
  progressText: byId('progress-text'),
  lossModel: byId<HTMLSelectElement>('loss-model'),
  results: byId<HTMLTableElement>('results'),
  serveModel: byId<HTMLSelectElement>('serve-model'),
  userInput: byId<HTMLInputElement>('user-input'),
  userRandom: byId<HTMLButtonElement>('user-random'),
  userHistory: byId('user-history'),
  recList: byId<HTMLOListElement>('rec-list'),
  catalogueSearch: byId<HTMLInputElement>('catalogue-search'),
  catalogue: byId('catalogue'),
  profileClear: byId<HTMLButtonElement>('profile-clear'),
  profile: byId('profile'),
  personalStatus: byId('personal-status'),
  personalList: byId<HTMLOListElement>('personal-list'),
};

const lossChart = new LineChart(byId('loss-chart') as unknown as SVGSVGElement, byId('loss-legend'), {
  xLabel: 'step',
  logY: true,
  format: (v) => v.toExponential(2),
  empty: 'losses appear here while a model trains',
});
const metricChart = new LineChart(byId('metric-chart') as unknown as SVGSVGElement, byId('metric-legend'), {
  xLabel: 'epoch',
  format: (v) => v.toFixed(4),
  empty: 'validation metrics appear after each evaluated epoch',
});

// ───────────────────────────── State ─────────────────────────────

/** A model ready to serve: trained here, or loaded from a file. */
interface Served {
  key: string;
  label: string;
  kind: ModelKind;
  recommender: Recommender;
  /** The trained model on the current device; null for a loaded file and after a device loss. */
  model: RecModel | null;
  /** Training results (null for a loaded file): also what enables 'Download model'. */
  result: FitResult | null;
  /**
   * Host copy of the model: the model-file bytes (serializeModel after training, or the file as loaded). It
   * is what 'Download model' saves and what rebuilds the recommender on a new device after a device loss.
   */
  bytes: Uint8Array;
  /** How the recommender was built from `bytes` (everything but the backend). */
  load: Omit<LoadOptions, 'backend'>;
}

/** One training run's curves. */
interface Run {
  key: string;
  label: string;
  kind: ModelKind;
  steps: { step: number; losses: LossComponents }[];
  val: { epoch: number; recall: number; ndcg: number }[];
}

const state = {
  be: null as Backend | null,
  data: null as Dataset | null,
  /** Training items per user (CSR) and held-out test items per user, for display. */
  seen: null as { rowPtr: Uint32Array; colIdx: Uint32Array } | null,
  testItems: new Map<number, Set<number>>(),
  /** Items by training popularity, most popular first. */
  popular: new Uint32Array(0),
  served: new Map<string, Served>(),
  runs: new Map<string, Run>(),
  training: false,
  abort: null as AbortController | null,
  profile: [] as number[],
  personal: null as PersonalizedUser | null,
  /** Devices lost and recovered so far (shown as data-device on the lists, for tests and debugging). */
  recoveries: 0,
};

const KIND_LABEL = MODEL_LABELS;
const KIND_COLOR: Record<ModelKind, string> = {
  irllrec: '#2563eb',
  lightgcn: '#ea580c',
  rlmrec: '#7c3aed',
  sgl: '#b45309',
  sgl_plus: '#9333ea',
  sgl_int: '#0891b2',
  simgcl: '#dc2626',
  simgcl_plus: '#c026d3',
  simgcl_int: '#059669',
};
const TERM_COLOR: Record<string, string> = {
  total: '#111827',
  bpr: '#2563eb',
  reg: '#9ca3af',
  kd: '#059669',
  kd_int: '#d97706',
  ssl: '#db2777',
  itm: '#7c3aed',
  cl: '#0d9488',
};

const params = new URLSearchParams(location.search);

// ───────────────────────────── GPU work, one job at a time ─────────────────────────────

// Training, serving queries and personalisation all record work on the same backend. Running them one after
// another keeps each job's submissions and readbacks together; stale UI requests are dropped by token.
let gpuQueue: Promise<unknown> = Promise.resolve();
function onGpu<T>(job: () => Promise<T>): Promise<T> {
  const p = gpuQueue.then(job);
  gpuQueue = p.catch(() => undefined);
  return p;
}

/**
 * The CPU backend runs each step synchronously; yielding to the event loop before every readback lets the
 * page repaint the progress and react to Stop while it trains (WebGPU readbacks yield by themselves).
 */
class YieldingCpuBackend extends CpuBackend {
  override async read(t: Tensor): Promise<CpuArray> {
    await new Promise((r) => setTimeout(r, 0));
    return super.read(t);
  }
}

// ───────────────────────────── Errors and formatting ─────────────────────────────

function showError(e: unknown): Promise<void> {
  const be = state.be;
  return lostDevice(e, be).then((lost) => {
    // A lost device is not the visitor's error: the page recovers on a new device and redoes what it showed
    // (a device already replaced needs nothing more).
    if (!lost) displayError(e);
    else if (be === state.be) void recoverDevice(be!, e instanceof Error ? e.message : String(e));
  });
}

/** Show `e` in the error box (and the console). */
function displayError(e: unknown): void {
  const msg = e instanceof IrllrecError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
  ui.error.replaceChildren(
    h('strong', { text: 'Something went wrong: ' }),
    msg,
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss' }, '×'),
  );
  (ui.error.querySelector('button') as HTMLButtonElement).onclick = () => {
    ui.error.hidden = true;
  };
  ui.error.hidden = false;
  console.error(e);
}

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function fmtMetric(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(4);
}

const ADJECTIVES = ['Amber', 'Azure', 'Brisk', 'Cedar', 'Cobalt', 'Copper', 'Crimson', 'Dusty', 'Ember', 'Fable', 'Gilded', 'Golden', 'Hollow', 'Ivory', 'Jade', 'Lunar',
  'Maple', 'Misty', 'Neon', 'Onyx', 'Opal', 'Quiet', 'Rustic', 'Saffron', 'Silver', 'Solar', 'Stormy', 'Teal', 'Velvet', 'Wild', 'Winter', 'Zephyr'];
const NOUNS = ['Atlas', 'Beacon', 'Canyon', 'Comet', 'Drift', 'Echo', 'Falcon', 'Fern', 'Garden', 'Harbor', 'Horizon', 'Lantern', 'Meadow', 'Mirage', 'Nebula', 'Orchard',
  'Otter', 'Pebble', 'Prism', 'Quill', 'Raven', 'Ridge', 'River', 'Sparrow', 'Summit', 'Tide', 'Tundra', 'Violet', 'Willow', 'Wisp', 'Yarrow', 'Zenith'];

/** A display name: the dataset's own id, or (synthetic data) a generated name that is stable per item. */
function itemName(i: number): string {
  const ids = state.data?.itemIds;
  if (ids?.[i] !== undefined) return ids[i];
  const x = hashU32(i ^ 0x9e3779b9);
  return `${ADJECTIVES[x & 31]} ${NOUNS[(x >>> 5) & 31]}`;
}

function itemChip(i: number, opts: { action?: 'add' | 'remove'; similarity?: number } = {}): HTMLElement {
  const inProfile = state.profile.includes(i);
  const label = [itemName(i), h('small', { text: ` #${i}` })];
  if (opts.similarity !== undefined) label.push(h('small', { class: 'sim', text: ` ${opts.similarity.toFixed(2)}` }));
  if (!opts.action) return h('span', { class: 'chip', 'data-item': i }, ...label);
  return h(
    'button',
    {
      type: 'button',
      class: `chip item${inProfile ? ' chosen' : ''}`,
      'data-item': i,
      'data-action': opts.action,
      'aria-pressed': opts.action === 'add' ? String(inProfile) : undefined,
      title: opts.action === 'add' ? (inProfile ? 'In your profile (click to remove)' : 'Add to your profile') : 'Remove from your profile',
    },
    ...label,
  );
}

// ───────────────────────────── Device ─────────────────────────────

/** This page's URL with one parameter set (or removed, for null). */
function withParam(name: string, value: string | null): string {
  const next = new URLSearchParams(params);
  if (value === null) next.delete(name);
  else next.set(name, value);
  const q = next.toString();
  return `${location.pathname}${q ? `?${q}` : ''}`;
}

async function initBackend(): Promise<Backend> {
  const simulated = params.get('webgpu') === 'off';
  if (simulated) Object.defineProperty(navigator, 'gpu', { value: undefined, configurable: true });
  const chosenCpu = params.get('backend') === 'cpu';
  const notices: string[] = [];
  let be: Backend;
  try {
    be = await createBackend({ backend: chosenCpu ? 'cpu' : 'auto', onNotice: (m) => notices.push(m) });
  } catch (e) {
    // An adapter exists but no device could be made (e.g. limits refused): still usable on the CPU.
    notices.push(`irllrec: WebGPU failed (${(e as Error).message}); using the CPU backend (slower).`);
    be = new CpuBackend();
  }
  if (be.kind === 'cpu') {
    be.destroy();
    be = new YieldingCpuBackend();
  }
  document.body.dataset.backend = be.kind;
  if (be instanceof WebGpuBackend) {
    const a = be.ctx.adapter;
    ui.backendKind.textContent = 'WebGPU';
    ui.backendKind.className = 'pill ok';
    ui.adapterName.textContent = a.name;
    const features = [...be.ctx.features].filter((f) => ['shader-f16', 'timestamp-query', 'subgroups'].includes(f));
    ui.adapterDetail.textContent = [
      a.vendor && `vendor ${a.vendor}`,
      a.architecture && `architecture ${a.architecture}`,
      a.isSoftware ? 'software adapter: a CPU emulates the GPU, so training is slow but exact' : 'hardware adapter',
      `storage buffers up to ${(be.ctx.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`,
      features.length ? `features: ${features.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' · ');
    // A CPU emulating a GPU is usually slower than the CPU twins run directly: offer them.
    if (a.isSoftware) ui.adapterDetail.append(' · ', h('a', { href: withParam('backend', 'cpu'), 'data-testid': 'use-cpu', text: 'the CPU backend may be faster here' }));
    ui.adapterName.dataset.software = String(a.isSoftware);
  } else if (chosenCpu) {
    ui.backendKind.textContent = 'CPU';
    ui.backendKind.className = 'pill';
    ui.adapterName.textContent = 'JavaScript CPU backend';
    ui.adapterDetail.replaceChildren(
      'Chosen with ?backend=cpu: the same maths as the WebGPU kernels (their CPU twins), on the main thread · ',
      h('a', { href: withParam('backend', null), text: 'use WebGPU' }),
    );
  } else {
    ui.backendKind.textContent = 'CPU';
    ui.backendKind.className = 'pill warn';
    ui.adapterName.textContent = 'JavaScript CPU backend';
    ui.adapterDetail.textContent = 'The same maths as the WebGPU kernels (their CPU twins), on the main thread.';
    ui.notice.replaceChildren(
      h('strong', { text: 'No WebGPU here. ' }),
      `${notices.join(' ') || 'irllrec: using the CPU backend.'} `,
      'Training still works, only much slower; recommendations and personalisation work as usual. ',
      'For the GPU path use a browser with WebGPU (Chrome or Edge 113+, Safari 26+, Firefox 141+ on Windows) and hardware acceleration on.',
      ...(simulated ? [h('em', { text: ' (Simulated: the page was opened with ?webgpu=off.)' })] : []),
    );
    ui.notice.hidden = false;
  }
  return be;
}

/**
 * Whether the job error `e` on `be` comes from a lost device: the typed error, or any error while `be`'s device
 * is gone. A job can fail before `device.lost` resolves (Chromium rejects pending `mapAsync` calls with an
 * AbortError first), so an untyped error waits a moment for the loss to show.
 */
async function lostDevice(e: unknown, be: Backend | null): Promise<boolean> {
  if (e instanceof IrllrecError && e.code === 'device-lost') return true;
  if (!(be instanceof WebGpuBackend)) return false;
  if (!be.ctx.alive) return true;
  if (e instanceof IrllrecError && e.code !== 'gpu') return false; // input errors: nothing to do with the device
  return Promise.race([be.device.lost.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 500))]);
}

/** Recover when `be`'s device is lost, even when no job is running to notice it. */
function watchDevice(be: Backend): void {
  if (!(be instanceof WebGpuBackend)) return;
  void be.device.lost.then((info) => {
    // Our own destroy of a replaced backend also resolves `lost`: only the current one is recovered.
    if (state.be === be) void recoverDevice(be, info.message || info.reason);
  });
}

let recovery: { from: Backend; done: Promise<boolean> } | null = null;

/**
 * Replace the lost backend `lost` with a new one and rebuild every served model on it from its host copy.
 * Runs once per lost backend (later callers get the same promise, true when it recovered) and as a job on the
 * GPU queue, so that it starts after the jobs that were running on the lost device have failed; stale jobs
 * queued behind it see that their `Served` was replaced and do nothing. A training run in progress resumes
 * by itself (see trainOne). Jobs inside the queue must never wait on this (it would wait for them).
 */
function recoverDevice(lost: Backend, reason: string): Promise<boolean> {
  if (recovery?.from === lost) return recovery.done;
  if (state.be !== lost) return Promise.resolve(true);
  document.body.dataset.device = 'recovering';
  ui.deviceNotice.replaceChildren(h('strong', { text: 'The GPU device was lost. ' }), 'Recovering on a new device…');
  ui.deviceNotice.hidden = false;
  const done = onGpu(async () => {
    const be = await initBackend();
    const restored = new Map<string, Served>();
    try {
      for (const s of state.served.values()) restored.set(s.key, { ...s, recommender: await Recommender.load(s.bytes, { ...s.load, backend: be }), model: null });
    } catch (e) {
      for (const s of restored.values()) s.recommender.dispose();
      be.destroy();
      throw e;
    }
    // Drop the handles that lived on the lost device (their memory went with it; a lost device accepts this).
    const release = (f: () => void) => {
      try {
        f();
      } catch {
        // nothing left to release
      }
    };
    release(() => state.personal?.dispose());
    state.personal = null;
    for (const s of state.served.values()) {
      release(() => s.recommender.dispose());
      release(() => s.model?.dispose());
    }
    release(() => lost.destroy());
    state.served = restored;
    state.be = be;
    state.recoveries++;
    watchDevice(be);
    return restored.size;
  }).then(
    (models) => {
      ui.deviceNotice.replaceChildren(
        h('strong', { text: 'The GPU device was lost; recovered on a new device' }),
        ` without reloading the page (${reason}). `,
        models ? `${models} model${models === 1 ? '' : 's'} restored from host copies${state.training ? '; training resumes from its last epoch checkpoint' : ''}.` : '',
      );
      document.body.dataset.device = 'ok';
      document.body.dataset.recoveries = String(state.recoveries);
      renderResults();
      renderServeOptions();
      void refreshAll().catch(showError);
      return true;
    },
    (e: unknown) => {
      document.body.dataset.device = 'failed';
      ui.deviceNotice.replaceChildren(h('strong', { text: 'The GPU device was lost and no new one could be set up. ' }), 'Reload the page to start again.');
      displayError(new IrllrecError('device-lost', `recovering from a lost device failed: ${e instanceof Error ? e.message : String(e)}`));
      return false;
    },
  );
  recovery = { from: lost, done };
  return done;
}

// Test and debugging hook: lose the device as a driver reset would (the page must recover by itself).
(window as unknown as { __irllrecDemo: { loseDevice(): void } }).__irllrecDemo = {
  loseDevice() {
    if (!(state.be instanceof WebGpuBackend)) throw new Error('demo: no WebGPU device to lose (the CPU backend is in use)');
    state.be.device.destroy();
  },
};

// ───────────────────────────── Data ─────────────────────────────

function setData(data: Dataset, label: string): void {
  for (const s of state.served.values()) disposeServed(s);
  state.served.clear();
  state.runs.clear();
  state.profile = [];
  state.data = data;
  state.seen = userItemCsr(data.numUsers, data.numItems, data.train);
  state.testItems = new Map();
  for (let k = 0; k < data.test.users.length; k++) {
    const u = data.test.users[k];
    let s = state.testItems.get(u);
    if (!s) state.testItems.set(u, (s = new Set()));
    s.add(data.test.items[k]);
  }
  const counts = new Uint32Array(data.numItems);
  for (const i of data.train.items) counts[i]++;
  state.popular = Uint32Array.from({ length: data.numItems }, (_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
  const text = Object.keys(data.text).filter((k) => data.text[k as keyof typeof data.text]);
  ui.dataSummary.replaceChildren(
    h('strong', { text: label }),
    `: ${data.numUsers.toLocaleString()} users · ${data.numItems.toLocaleString()} items · `,
    `${data.train.users.length.toLocaleString()} train / ${data.val.users.length.toLocaleString()} val / ${data.test.users.length.toLocaleString()} test interactions`,
    text.length ? ` · text embeddings: ${text.join(', ')}` : ' · no text embeddings (IRLLRec needs them)',
  );
  if (data.warnings?.length) ui.dataSummary.append(h('span', { class: 'muted', text: ` · ${data.warnings.length} loader warning(s): ${data.warnings.slice(0, 2).join('; ')}` }));
  ui.dataSummary.dataset.users = String(data.numUsers);
  ui.dataSummary.dataset.items = String(data.numItems);
  // The first user with held-out test items, unless the URL names one.
  const firstWithTest = data.test.users.length ? data.test.users[0] : 0;
  ui.userInput.max = String(data.numUsers - 1);
  ui.userInput.value = String(Math.min(data.numUsers - 1, Math.max(0, Number(params.get('user') ?? firstWithTest) || 0)));
  renderCharts();
  renderResults();
  renderServeOptions();
  renderCatalogue();
  renderProfile();
  void refreshAll();
}

/**
 * Callers take `s` out of `state.served` first, so no new job picks it up; the release itself waits its turn
 * on the GPU queue, because a job that already passed its `state.served` check may still be between two awaits
 * on this recommender (personalize → recommend → explain).
 */
function disposeServed(s: Served): void {
  if (state.personal?.owner === s.recommender) state.personal = null;
  void onGpu(async () => {
    s.recommender.dispose();
    s.model?.dispose();
  });
}

const DATASET_FILES = new Set(['train.tsv', 'val.tsv', 'test.tsv', 'meta.json', 'user_profile.npy', 'item_profile.npy', 'user_intent.npy', 'item_intent.npy']);

async function loadPicked(list: FileList | null): Promise<void> {
  if (!list || list.length === 0 || !state.be) return;
  const files = [...list];
  const dataFiles: Record<string, Uint8Array> = {};
  let folder = '';
  let modelFile: File | null = null;
  const ignored: string[] = [];
  for (const f of files) {
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    if (f.name.endsWith('.safetensors')) modelFile = f;
    else if (DATASET_FILES.has(f.name)) {
      dataFiles[f.name] = new Uint8Array(await f.arrayBuffer());
      if (rel.includes('/')) folder = rel.split('/').slice(-2, -1)[0];
    } else ignored.push(f.name);
  }
  if (!modelFile && !dataFiles['train.tsv']) {
    throw new IrllrecError('data', `no train.tsv or .safetensors model among the chosen files (${files.map((f) => f.name).join(', ')})`);
  }
  if (dataFiles['train.tsv']) {
    const data = datasetFromFiles(dataFiles, { name: folder || undefined });
    setData(data, `${data.name}${ignored.length ? ` (ignored: ${ignored.join(', ')})` : ''}`);
  }
  if (modelFile) await loadModelFile(modelFile);
}

async function loadModelFile(f: File): Promise<void> {
  const bytes = new Uint8Array(await f.arrayBuffer());
  const file = parseModelFile(bytes, f.name);
  const data = state.data;
  const matches = data !== null && data.numUsers === file.numUsers && data.numItems === file.numItems && data.train.users.length > 0;
  if (!matches) {
    if (!file.train) throw new IrllrecError('data', `${f.name}: the file carries no training interactions; choose its dataset folder together with it`);
    const empty = { users: new Uint32Array(0), items: new Uint32Array(0) };
    setData(
      { name: file.datasetName ?? f.name, numUsers: file.numUsers, numItems: file.numItems, train: file.train, val: empty, test: empty, text: {}, userIds: file.userIds, itemIds: file.itemIds },
      `${f.name} (training interactions from the model file)`,
    );
  }
  const d = state.data!;
  const load = { interactions: file.train ? undefined : d.train, sourceName: f.name, userIds: d.userIds, itemIds: d.itemIds };
  // The backend is read inside the job: a device recovery queued before it may have replaced it.
  const recommender = await onGpu(() => Recommender.load(bytes, { ...load, backend: state.be! }));
  const key = `file:${f.name}`;
  const old = state.served.get(key);
  if (old) disposeServed(old);
  state.served.set(key, { key, label: `${f.name} (${KIND_LABEL[file.config.kind]})`, kind: file.config.kind, recommender, model: null, result: null, bytes, load });
  renderServeOptions(key);
  await refreshAll();
}

// ───────────────────────────── Training ─────────────────────────────

interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  evalEvery: number;
  seed: number;
  maxSteps?: number;
}

function readForm(): TrainOptions {
  const int = (input: HTMLInputElement, name: string, min: number) => {
    const v = Number(input.value);
    if (!Number.isInteger(v) || v < min) throw new IrllrecError('range', `${name} must be an integer ≥ ${min}, got '${input.value}'`);
    return v;
  };
  const lr = Number(ui.lr.value);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new IrllrecError('range', `learning rate must be a positive number, got '${ui.lr.value}'`);
  return {
    epochs: int(ui.epochs, 'epochs', 1),
    batchSize: int(ui.batchSize, 'batch size', 1),
    lr,
    evalEvery: int(ui.evalEvery, 'validate every', 1),
    seed: Number.isInteger(Number(ui.seed.value)) ? Number(ui.seed.value) : 2023,
    maxSteps: ui.maxSteps.value.trim() === '' ? undefined : int(ui.maxSteps, 'stop after', 1),
  };
}

function setTraining(on: boolean): void {
  state.training = on;
  document.body.dataset.state = on ? 'training' : 'idle';
  ui.trainBtn.disabled = on || !state.data;
  ui.stopBtn.disabled = !on;
  ui.useSynthetic.disabled = on;
  ui.fileInput.disabled = on;
  ui.dirInput.disabled = on;
  updateDownload();
}

/** The two models the form trains on the chosen backbone: the backbone alone and IRLLRec on it. */
function backboneKinds(): { plain: ModelKind; withIntents: ModelKind } {
  const b = ui.backbone.value;
  if (b === 'sgl' || b === 'simgcl') return { plain: b, withIntents: `${b}_int` };
  return { plain: 'lightgcn', withIntents: 'irllrec' };
}

async function trainSelected(): Promise<void> {
  if (state.training || !state.data || !state.be) return;
  const kinds: ModelKind[] = [];
  const { plain, withIntents } = backboneKinds();
  if (ui.modelLightgcn.checked) kinds.push(plain);
  if (ui.modelIrllrec.checked) kinds.push(withIntents);
  if (kinds.length === 0) throw new IrllrecError('range', 'choose at least one model to train');
  const opts = readForm();
  const abort = new AbortController();
  state.abort = abort;
  ui.error.hidden = true;
  setTraining(true);
  try {
    for (let r = 0; r < kinds.length && !abort.signal.aborted; r++) await trainOne(kinds[r], opts, abort.signal, r, kinds.length);
  } finally {
    state.abort = null;
    setTraining(false);
  }
}

async function trainOne(kind: ModelKind, o: TrainOptions, signal: AbortSignal, index: number, count: number): Promise<void> {
  const data = state.data!;
  const label = KIND_LABEL[kind];
  const old = state.served.get(kind);
  if (old) {
    state.served.delete(kind);
    disposeServed(old);
    renderServeOptions();
  }
  const run: Run = { key: kind, label, kind, steps: [], val: [] };
  state.runs.set(kind, run);
  ui.lossModel.value = kind;
  renderLossOptions(kind);
  renderCharts();
  const stepsPerEpoch = Math.ceil(data.train.users.length / o.batchSize);
  const planned = Math.min(o.epochs * stepsPerEpoch, o.maxSteps ?? Infinity);
  const prefix = count > 1 ? `${label} (${index + 1}/${count})` : label;
  let done = 0;
  let epoch = 0;
  /** Said in the progress line from a device loss on: how the run went on. */
  let resumeNote = '';
  const t0 = performance.now();
  const progress = (what: string) => {
    const secs = (performance.now() - t0) / 1000;
    const rate = done / Math.max(secs, 1e-3);
    const eta = done > 0 && done < planned ? ` · about ${fmtSeconds((planned - done) / rate)} left` : '';
    ui.progress.value = planned > 0 ? done / planned : 0;
    ui.progressText.textContent = `${prefix} · epoch ${Math.min(epoch + 1, o.epochs)}/${o.epochs} · step ${done}/${planned} · ${rate.toFixed(2)} steps/s${eta}${what ? ` · ${what}` : ''}${resumeNote}`;
  };
  ui.progress.removeAttribute('value'); // indeterminate while kernels compile
  ui.progressText.textContent = `${prefix} · building the graph and compiling kernels…`;
  delete ui.progress.dataset.checkpointEpoch;
  delete ui.progress.dataset.resumedFrom;
  // The run's state after its last whole epoch, on the host: a lost device resumes from here on the new one.
  let checkpoint: TrainingCheckpoint | null = null;
  const onCheckpoint: FitCheckpointOptions['onCheckpoint'] = async (st, model, snapshot) => {
    checkpoint = await captureCheckpoint(model, st, snapshot, data);
    ui.progress.dataset.checkpointEpoch = String(st.epoch);
  };
  const fitOptions = {
    model: kind,
    epochs: o.epochs,
    batchSize: o.batchSize,
    lr: o.lr,
    evalEvery: o.evalEvery,
    seed: o.seed,
    maxSteps: o.maxSteps,
    signal,
    onStep: (r: StepReport) => {
      done++;
      epoch = r.epoch;
      run.steps.push({ step: done, losses: r.losses });
      progress(done === planned ? 'final evaluation on validation and test…' : r.step === r.stepsInEpoch && r.epoch % o.evalEvery === 0 ? 'validating…' : '');
      if (ui.lossModel.value === kind) renderLossChart();
    },
    onEpoch: (r: EpochReport) => {
      epoch = r.epoch + 1;
      if (r.val) run.val.push({ epoch: r.epoch + 1, recall: r.val['recall@20'] ?? NaN, ndcg: r.val['ndcg@20'] ?? NaN });
      renderMetricChart();
      progress(signal.aborted ? 'stopping…' : '');
    },
  };
  let served: Served;
  let be = state.be!;
  let losses = 0;
  for (; ; losses++) {
    try {
      served = await onGpu(async () => {
        // Fresh, or resumed from the last checkpoint with the same options (`epochs` counts from the start).
        const from = checkpoint ? resumeFrom(be, data, checkpoint, { onCheckpoint }) : { checkpoint: { onCheckpoint } };
        const result = await fit(be, data, { ...fitOptions, ...from });
        try {
          const load = { interactions: data.train, userIds: data.userIds, itemIds: data.itemIds };
          const bytes = await serializeModel(result.model, { train: data.train, userIds: data.userIds, itemIds: data.itemIds, datasetName: data.name });
          const recommender = await Recommender.fromModel(result.model, load);
          return { key: kind, label, kind, recommender, model: result.model, result, bytes, load };
        } catch (e) {
          result.model.dispose();
          throw e;
        }
      });
      break;
    } catch (e) {
      // A lost device: once a new one is up, continue from the last checkpoint (a few times at most).
      if (losses < 3 && (await lostDevice(e, be)) && (await recoverDevice(be, e instanceof Error ? e.message : String(e)))) {
        be = state.be!;
        const from = (checkpoint as TrainingCheckpoint | null)?.trainer;
        done = from?.steps ?? 0;
        epoch = from?.epoch ?? 0;
        // Forget the curves past the checkpoint: those steps run again.
        run.steps = run.steps.filter((p) => p.step <= done);
        run.val = run.val.filter((v) => v.epoch <= epoch);
        renderCharts();
        ui.progress.dataset.resumedFrom = String(epoch);
        resumeNote = from
          ? ` · the device was lost: resumed from the checkpoint after epoch ${epoch} on a new device`
          : ' · the device was lost before the first checkpoint: restarted on a new device';
        progress('');
        continue;
      }
      ui.progressText.textContent = `${prefix} failed.`;
      ui.progress.value = 0;
      throw e;
    }
  }
  const result = served.result!;
  const seconds = (performance.now() - t0) / 1000;
  if (losses > 0) result.seconds = seconds; // fit timed only the resumed part
  ui.progress.value = 1;
  ui.progressText.textContent = `${prefix} ${result.aborted ? 'stopped' : 'done'}: ${result.steps} steps in ${fmtSeconds(seconds)} on ${be.kind === 'webgpu' ? 'WebGPU' : 'the CPU'}${result.stoppedEarly ? ' (early stopping)' : ''}; best epoch ${result.bestEpoch + 1}.${resumeNote}`;
  state.served.set(kind, served);
  renderResults();
  renderServeOptions(kind);
  await refreshAll();
}

function renderResults(): void {
  const body = ui.results.tBodies[0];
  const rows: HTMLTableRowElement[] = [];
  for (const s of state.served.values()) {
    const r = s.result;
    const secs = r?.seconds;
    rows.push(
      h(
        'tr',
        { 'data-testid': 'result-row', 'data-model': s.key },
        h('th', { text: s.label }),
        h('td', { text: state.be?.kind === 'webgpu' ? 'WebGPU' : 'CPU' }),
        h('td', { text: r ? `${r.history.length}${r.aborted ? ' (stopped)' : r.stoppedEarly ? ' (early stop)' : ''}` : '–' }),
        h('td', { text: r ? String(r.steps) : '–' }),
        h('td', { text: secs !== undefined ? fmtSeconds(secs) : '–' }),
        h('td', { text: r && secs ? (r.steps / secs).toFixed(2) : '–' }),
        h('td', { 'data-metric': 'val-recall', text: fmtMetric(r?.val['recall@20']) }),
        h('td', { 'data-metric': 'val-ndcg', text: fmtMetric(r?.val['ndcg@20']) }),
        h('td', { 'data-metric': 'test-recall', text: fmtMetric(r?.test['recall@20']) }),
        h('td', { 'data-metric': 'test-ndcg', text: fmtMetric(r?.test['ndcg@20']) }),
      ),
    );
  }
  body.replaceChildren(...rows);
  ui.results.hidden = rows.length === 0;
}

// ───────────────────────────── Charts ─────────────────────────────

function renderLossOptions(select?: string): void {
  const current = select ?? ui.lossModel.value;
  ui.lossModel.replaceChildren(...[...state.runs.values()].map((r) => h('option', { value: r.key, text: r.label })));
  if (state.runs.has(current)) ui.lossModel.value = current;
  ui.lossModel.hidden = state.runs.size < 2;
}

function renderLossChart(): void {
  const run = state.runs.get(ui.lossModel.value);
  const series: Series[] = [];
  if (run) {
    for (const term of ['total', ...LOSS_NAMES] as const) {
      // Terms a model does not have are exactly 0: leave them out.
      if (!run.steps.some((s) => s.losses[term] !== 0)) continue;
      series.push({ id: term, label: term, color: TERM_COLOR[term], points: run.steps.map((s) => [s.step, Math.abs(s.losses[term])]), dash: term === 'total' ? '5 3' : undefined });
    }
  }
  lossChart.set(series);
}

function renderMetricChart(): void {
  const series: Series[] = [];
  for (const run of state.runs.values()) {
    if (run.val.length === 0) continue;
    const color = KIND_COLOR[run.kind];
    series.push({ id: `${run.key}-recall`, label: `${run.label} Recall@20`, color, markers: true, points: run.val.map((v) => [v.epoch, v.recall]) });
    series.push({ id: `${run.key}-ndcg`, label: `${run.label} NDCG@20`, color, dash: '6 4', markers: true, points: run.val.map((v) => [v.epoch, v.ndcg]) });
  }
  metricChart.set(series);
}

function renderCharts(): void {
  renderLossOptions();
  renderLossChart();
  renderMetricChart();
}

// ───────────────────────────── Serving: a user's recommendations ─────────────────────────────

function renderServeOptions(select?: string): void {
  const prev = select ?? ui.serveModel.value;
  const opts = [...state.served.values()].map((s) => h('option', { value: s.key, text: s.label }));
  ui.serveModel.replaceChildren(...opts);
  if (state.served.has(prev)) ui.serveModel.value = prev;
  else if (state.served.has('irllrec')) ui.serveModel.value = 'irllrec';
  ui.serveModel.disabled = opts.length === 0;
  updateDownload();
}

function currentServed(): Served | null {
  return state.served.get(ui.serveModel.value) ?? null;
}

function updateDownload(): void {
  ui.downloadBtn.disabled = state.training || !currentServed()?.result;
}

/** One recommendation with its explanation. */
function renderRec(rank: number, id: number, score: number, why: Explanation | undefined, opts: { testid: string; hit: boolean; addable: boolean; numIntents: number }): HTMLLIElement {
  const head = h(
    'div',
    { class: 'rec-head' },
    h('span', { class: 'rank', text: String(rank) }),
    opts.addable ? itemChip(id, { action: 'add' }) : h('span', { class: 'item-name' }, itemName(id), h('small', { text: ` #${id}` })),
    h('span', { class: 'score', title: 'score: Xu·Xi', text: score.toFixed(2) }),
    opts.hit ? h('span', { class: 'badge hit', title: 'held out in the test split: a correct prediction', 'data-testid': 'test-hit', text: 'test hit' }) : null,
  );
  const explanation = h('div', { class: 'why', 'data-testid': 'explanation', 'data-kind': why?.kind ?? 'none' });
  if (why) {
    if (why.kind === 'intents') {
      // Shares are of Σk πu_k·πi_k over all K prototypes (1/K each when nothing is learnt yet): the bars are
      // scaled to the top intent, the numbers say how far above uniform each one is.
      const top = why.intents[0]?.share ?? 1;
      const K = opts.numIntents;
      for (const c of why.intents) {
        const pct = c.share * 100;
        const lift = c.share * K;
        explanation.append(
          h(
            'div',
            { class: 'intent', 'data-testid': 'intent', 'data-intent': c.intent, 'data-share': c.share.toFixed(6) },
            h('span', { class: 'intent-name', text: c.label ?? `intent ${c.intent}` }),
            h('span', { class: 'bar', title: `${pct.toFixed(1)}% of the user–item intent agreement, ${lift.toFixed(1)}× the uniform 1/${K}` }, h('span', { style: `width:${Math.max(3, (100 * c.share) / top).toFixed(0)}%` })),
            h('span', { class: 'pct', text: `${pct < 10 ? pct.toFixed(1) : pct.toFixed(0)}%` }),
            c.examples.length ? h('span', { class: 'examples muted', text: `like ${[...c.examples].map(itemName).join(', ')}` }) : null,
          ),
        );
      }
    }
    if (why.becauseOf.length) {
      explanation.append(h('div', { class: 'because', 'data-testid': 'because' }, h('span', { class: 'muted', text: 'because of ' }), ...why.becauseOf.map((e) => itemChip(e.item, { similarity: e.similarity }))));
    }
  }
  return h('li', { class: 'rec', 'data-testid': opts.testid, 'data-item': id }, head, explanation);
}

let userToken = 0;
async function refreshUser(): Promise<void> {
  const token = ++userToken;
  const s = currentServed();
  const data = state.data;
  if (!s || !data) {
    ui.recList.replaceChildren(h('li', { class: 'placeholder', text: 'Train a model (or load one) to see recommendations.' }));
    ui.userHistory.textContent = '';
    return;
  }
  let u = Math.trunc(Number(ui.userInput.value));
  if (!Number.isFinite(u) || u < 0) u = 0;
  u = Math.min(u, data.numUsers - 1);
  ui.userInput.value = String(u);
  const [rec, why] = await onGpu(async () => {
    // Skip if a newer request came, or if the model was replaced (retrained) while this one waited.
    if (token !== userToken || state.served.get(s.key) !== s) return [null, null] as const;
    const r = await s.recommender.recommend(u, { k: 10 });
    const w = await s.recommender.explain(u, r.ids, { intents: 3, examples: 3, becauseOf: 2 });
    return [r, w] as const;
  });
  if (token !== userToken || !rec || !why) return;
  const seen = state.seen!;
  const history = seen.colIdx.subarray(seen.rowPtr[u], seen.rowPtr[u + 1]);
  const userLabel = data.userIds?.[u] !== undefined ? `user ${data.userIds[u]} (#${u})` : `user #${u}`;
  const hits = state.testItems.get(u) ?? new Set<number>();
  ui.userHistory.replaceChildren(
    `${userLabel} interacted with ${history.length} item${history.length === 1 ? '' : 's'}: `,
    ...[...history].slice(0, 12).map((i) => itemChip(i)),
    history.length > 12 ? ` and ${history.length - 12} more` : '',
    hits.size ? ` · ${hits.size} held out for testing` : '',
  );
  renderRecList(ui.recList, rec, why, { testid: 'rec-item', hits, addable: false, numIntents: s.recommender.config.numIntents });
  ui.recList.dataset.user = String(u);
  ui.recList.dataset.model = s.key;
  ui.recList.dataset.device = String(state.recoveries);
}

function renderRecList(list: HTMLOListElement, rec: Recommendation, why: Explanation[], opts: { testid: string; hits: Set<number>; addable: boolean; numIntents: number }): void {
  const items = [...rec.ids].map((id, r) => renderRec(r + 1, id, rec.scores[r], why[r], { ...opts, hit: opts.hits.has(id) }));
  list.replaceChildren(...(items.length ? items : [h('li', { class: 'placeholder', text: 'No candidates left.' })]));
}

// ───────────────────────────── Personalisation ─────────────────────────────

function renderCatalogue(): void {
  const data = state.data;
  if (!data) {
    ui.catalogue.replaceChildren();
    return;
  }
  const q = ui.catalogueSearch.value.trim().toLowerCase();
  const shown: number[] = [];
  for (const i of state.popular) {
    if (shown.length >= 36) break;
    if (!q || itemName(i).toLowerCase().includes(q) || String(i) === q) shown.push(i);
  }
  ui.catalogue.replaceChildren(
    ...shown.map((i) => {
      const b = itemChip(i, { action: 'add' });
      b.dataset.testid = 'catalogue-item';
      return b;
    }),
  );
  if (!shown.length) ui.catalogue.append(h('span', { class: 'muted small', text: 'No item matches.' }));
}

function renderProfile(): void {
  ui.profile.replaceChildren(...(state.profile.length ? state.profile.map((i) => itemChip(i, { action: 'remove' })) : [h('span', { class: 'muted', text: 'nothing yet' })]));
  ui.profile.dataset.count = String(state.profile.length);
  for (const b of document.querySelectorAll<HTMLElement>('button.item[data-action="add"]')) {
    const on = state.profile.includes(Number(b.dataset.item));
    b.classList.toggle('chosen', on);
    b.setAttribute('aria-pressed', String(on));
  }
}

function toggleProfile(item: number, action: 'add' | 'remove'): void {
  const at = state.profile.indexOf(item);
  if (at >= 0) state.profile.splice(at, 1);
  else if (action === 'add') state.profile.push(item);
  renderProfile();
  void refreshPersonal().catch(showError);
}

let personalToken = 0;
let personalVersion = 0;
async function refreshPersonal(): Promise<void> {
  const token = ++personalToken;
  const s = currentServed();
  const items = [...state.profile];
  if (!s || items.length === 0) {
    state.personal?.dispose();
    state.personal = null;
    ui.personalList.replaceChildren(h('li', { class: 'placeholder', text: s ? 'Pick a few items.' : 'Train a model (or load one) first.' }));
    ui.personalStatus.textContent = '';
    ui.personalList.dataset.version = String(++personalVersion);
    return;
  }
  if (state.training) ui.personalStatus.textContent = 'Waiting for training to finish…';
  const out = await onGpu(async () => {
    if (token !== personalToken || state.served.get(s.key) !== s) return null;
    const t0 = performance.now();
    const me = await s.recommender.personalize({ items });
    try {
      const rec = await s.recommender.recommend(me, { k: 10 });
      const why = await s.recommender.explain(me, rec.ids, { intents: 3, examples: 3, becauseOf: 2 });
      return { me, rec, why, ms: performance.now() - t0 };
    } catch (e) {
      me.dispose();
      throw e;
    }
  });
  if (!out) return;
  if (token !== personalToken) {
    out.me.dispose();
    return;
  }
  state.personal?.dispose();
  state.personal = out.me;
  const bpr = out.me.bprLoss;
  ui.personalStatus.replaceChildren(
    `Fitted on ${state.be?.kind === 'webgpu' ? 'the GPU' : 'the CPU'} in ${out.ms.toFixed(0)} ms with ${s.label}: `,
    bpr.length ? `${bpr.length} Adam steps, BPR ${bpr[0].toFixed(3)} → ${bpr[bpr.length - 1].toFixed(3)}.` : 'mean of your items.',
  );
  renderRecList(ui.personalList, out.rec, out.why, { testid: 'personal-item', hits: new Set(), addable: true, numIntents: s.recommender.config.numIntents });
  ui.personalList.dataset.version = String(++personalVersion);
  ui.personalList.dataset.profile = items.join(',');
  ui.personalList.dataset.device = String(state.recoveries);
}

async function refreshAll(): Promise<void> {
  await Promise.all([refreshUser(), refreshPersonal()]);
}

// ───────────────────────────── Events ─────────────────────────────

function guard(fn: () => Promise<void> | void): () => void {
  return () => {
    Promise.resolve()
      .then(fn)
      .catch(showError);
  };
}

ui.backbone.addEventListener('change', () => {
  ui.baselineName.textContent = KIND_LABEL[backboneKinds().plain];
});
ui.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  guard(trainSelected)();
});
ui.stopBtn.onclick = () => {
  state.abort?.abort();
  ui.stopBtn.disabled = true;
  ui.progressText.textContent += ' · stopping after this step…';
};
ui.useSynthetic.onclick = guard(() => setData(syntheticDataset({ seed: 1 }), 'Synthetic data (seed 1, 16 planted intents)'));
let picks = 0;
/**
 * Load what was chosen in a file input. When done, body[data-picked] is `N:ok` or `N:error` for the N-th
 * choice (the error, if any, is in the error box by then): what tests wait on.
 */
async function pickFiles(input: HTMLInputElement): Promise<void> {
  let outcome = 'ok';
  ui.error.hidden = true;
  try {
    await loadPicked(input.files);
  } catch (e) {
    outcome = 'error';
    await showError(e);
  } finally {
    input.value = '';
    document.body.dataset.picked = `${++picks}:${outcome}`;
  }
}
ui.fileInput.onchange = () => void pickFiles(ui.fileInput);
ui.dirInput.onchange = () => void pickFiles(ui.dirInput);
ui.downloadBtn.onclick = guard(async () => {
  const s = currentServed();
  const data = state.data;
  if (!s?.result || !data) return;
  // The host copy written after training (serializeModel with the training interactions and ids).
  const url = URL.createObjectURL(new Blob([new Uint8Array(s.bytes)], { type: 'application/octet-stream' }));
  const a = h('a', { href: url, download: `${data.name}-${s.kind}.safetensors` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
});
ui.lossModel.onchange = () => renderLossChart();
ui.serveModel.onchange = guard(async () => {
  updateDownload();
  await refreshAll();
});
ui.userInput.onchange = guard(refreshUser);
ui.userRandom.onclick = guard(async () => {
  const n = state.data?.numUsers ?? 1;
  ui.userInput.value = String(Math.floor(Math.random() * n));
  await refreshUser();
});
ui.catalogueSearch.oninput = () => renderCatalogue();
ui.profileClear.onclick = guard(async () => {
  state.profile = [];
  renderProfile();
  await refreshPersonal();
});
// Item chips anywhere: add to / remove from the profile.
document.addEventListener('click', (ev) => {
  const b = (ev.target as Element).closest?.('button.item[data-item]') as HTMLButtonElement | null;
  if (!b) return;
  toggleProfile(Number(b.dataset.item), b.dataset.action === 'remove' ? 'remove' : 'add');
});

// ───────────────────────────── Start ─────────────────────────────

function applyParams(): void {
  const set = (input: HTMLInputElement, name: string) => {
    const v = params.get(name);
    if (v !== null && v !== '') input.value = v;
  };
  const backbone = params.get('backbone');
  if (backbone === 'lightgcn' || backbone === 'sgl' || backbone === 'simgcl') ui.backbone.value = backbone;
  ui.baselineName.textContent = KIND_LABEL[backboneKinds().plain];
  const model = params.get('model');
  if (model) {
    ui.modelIrllrec.checked = model === 'irllrec' || model === 'both';
    ui.modelLightgcn.checked = model === 'lightgcn' || model === 'both';
  }
  set(ui.epochs, 'epochs');
  set(ui.batchSize, 'batch');
  set(ui.lr, 'lr');
  set(ui.evalEvery, 'evalEvery');
  set(ui.maxSteps, 'steps');
  set(ui.seed, 'seed');
}

async function start(): Promise<void> {
  applyParams();
  try {
    state.be = await initBackend();
    watchDevice(state.be);
  } catch (e) {
    document.body.dataset.state = 'error';
    throw e;
  }
  setData(syntheticDataset({ seed: 1 }), 'Synthetic data (seed 1, 16 planted intents)');
  setTraining(false);
  if (params.get('autostart') === '1') await trainSelected();
}

start().catch(showError);
