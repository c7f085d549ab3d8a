/**
 * irllrec: IRLLRec and its ladder (LightGCN, RLMRec-Con) trained and served on WebGPU.
 * The core entry is browser-safe: it imports no Node module. Node adds `irllrec/node` (Dawn, files, CLI).
 */
export * from './errors.js';
export { createBackend, cpuFallback, type CreateBackendOptions } from './backend.js';
export { GpuContext, describeAdapter, type DeviceLimits, type GpuContextOptions, type AdapterDescription } from './gpu/device.js';
export { Kernel, Recorder, grid1d } from './gpu/kernel.js';
export { BufferPool, type PoolStats } from './gpu/pool.js';
export { Profiler, type KernelTiming } from './gpu/profiler.js';
export * from './ops/index.js';
export { Rng, hashU32, hashUniform, hashNormal } from './util/random.js';

// Data
export type { Dataset, Interactions, Matrix, TextEmbeddings } from './data/types.js';
export { parseInteractionText, datasetFromSplits, splitInteractions, datasetFromFiles } from './data/interactions.js';
export { buildGraph, userItemCsr, type Graph } from './data/graph.js';
export { IdMap, type OriginalId } from './data/ids.js';
export { sampleNegatives, epochBatches } from './data/sampler.js';
export { syntheticDataset, type SyntheticOptions } from './data/synthetic.js';

// Files
export { parseNpy, writeNpy } from './io/npy.js';
export { readSafetensors, writeSafetensors, tensorToFloat32, float32Tensor, type SafeTensor } from './io/safetensors.js';
export { serializeModel, parseModelFile, type ModelFile } from './io/modelfile.js';

// Models and training
export { modelConfig, presetFor, validateConfig, canonicalKind, modelParts, MODEL_KINDS, MODEL_LABELS, MODEL_NAMES, KIND_ALIASES, PRESET_NAMES, REFERENCE_DATASETS, type PresetName, LOSS_NAMES, type Backbone, type ModelConfig, type ModelKind, type LossComponents, type LossName, type TextPrecision } from './models/config.js';
export { RecModel, type Batch, type ModelData, type StepOptions, type LossOptions } from './models/model.js';
export { fit, createModel, type FitOptions, type FitResult, type EpochReport, type StepReport, type TrainerState, type FitCheckpointOptions } from './train/trainer.js';
export { evaluate, type EvaluateOptions } from './train/evaluate.js';
export { alignmentDiagnostics, activeTerms, type AlignmentDiagnostics } from './train/diagnostics.js';
export { itemTopIntents, clusterAgreement, chanceAgreement, type ClusterAgreement } from './train/intents.js';
export { parseRunConfig, runConfigFromObject, runConfigToObject, checkRunField, RUN_CONFIG_FIELDS, type RunConfig, type TrainerSettings } from './train/runconfig.js';
export { MetricAccumulator, metricKeys, checkMetrics, METRIC_NAMES, DEFAULT_METRICS, type MetricName, type Metrics } from './train/metrics.js';
export { VERSION } from './version.js';
export {
  tune,
  runStudy,
  fitObjective,
  studySettings,
  parseSearchSpace,
  defaultSearchSpace,
  sampleConfig,
  rungBudgets,
  trialRunConfig,
  studyBest,
  type SearchSpace,
  type SearchParam,
  type TrialConfig,
  type StudySettings,
  type StudySettingsInput,
  type StudyState,
  type StudyStore,
  type StudyOptions,
  type StudyProgress,
  type StudyResult,
  type StudyBest,
  type TrialRecord,
  type TrialStatus,
  type RungResult,
  type Objective,
  type ObjectiveResult,
  type TrialContext,
  type TuneOptions,
} from './train/tune.js';

// Serving and checkpoints
export * from './serve/index.js';
export * from './train/checkpoint.js';
