/**
 * Serving: the `Recommender` (load a model file, recommend, similar items/users, explain), on-device
 * personalisation and explanations. Browser-safe; the `node` entry adds file paths (src/node/serve.ts).
 */
export {
  DEFAULT_MAX_MODEL_BYTES,
  type ItemFilter,
  type ItemRef,
  type LoadOptions,
  type ModelSource,
  type Ranking,
  type Recommendation,
  Recommender,
  type RecommenderOptions,
  type RecommendOptions,
  type ScoringMode,
  type SimilarOptions,
  type UserRef,
} from './recommender.js';
export { type PersonalizeOptions, PersonalizedUser } from './personalize.js';
export type { ExplainOptions, Explanation, IntentContribution, ItemEvidence } from './explain.js';
export { recommendChunks, recommendForUsers, type RecommendForUsersOptions } from './recommend.js';
