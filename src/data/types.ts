/**
 * The data model shared by loaders, models, the trainer and the recommender. Browser-safe: no Node imports.
 *
 * Ids are dense: users 0…numUsers−1, items 0…numItems−1. Graph node ids follow spec §0: user u → u,
 * item i → numUsers + i.
 */

/** Interactions as parallel arrays: pair k is (users[k], items[k]); both arrays have the same length. */
export interface Interactions {
  users: Uint32Array;
  items: Uint32Array;
}

/** A dense row-major float32 matrix: element (r, c) is data[r·cols + c]. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/**
 * The four text-side constant matrices of spec §1.8, rows aligned with the dense ids:
 * Pu (user profile, Nu×dp), Pi (item profile, Ni×dp), Qu (user intent, Nu×dq), Qi (item intent, Ni×dq).
 */
export interface TextEmbeddings {
  userProfile?: Matrix;
  itemProfile?: Matrix;
  userIntent?: Matrix;
  itemIntent?: Matrix;
}

/**
 * A dataset: three splits over one dense id space. Every split is sorted by (user, item) with no duplicate
 * pair (training is binarised, spec §1.1).
 */
export interface Dataset {
  name: string;
  numUsers: number;
  numItems: number;
  train: Interactions;
  val: Interactions;
  test: Interactions;
  /** Original ids when the files used string or sparse ids: userIds[dense id] = original id. */
  userIds?: string[];
  itemIds?: string[];
  text: TextEmbeddings;
  /**
   * Things a loader noticed but accepted (e.g. val/test items without a training interaction, pairs in two
   * splits, dropped rows). Library code never prints them; a CLI may.
   */
  warnings?: string[];
  /** The planted primary intent of each item (the synthetic data only): ground truth for the learnt intents. */
  plantedIntents?: Int32Array;
}
