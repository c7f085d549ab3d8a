export * from './tensor.js';
export * from './spmm.js';
