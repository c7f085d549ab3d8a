// Every op: GPU dispatch and CPU twin with the same signature (see README.md in this folder).
export * from './tensor.js';
export * from './spmm.js';
export * from './dense.js';
export * from './rowwise.js';
export * from './gather.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './optim.js';
export * from './random.js';
export * from './losses.js';
export * from './adaptive.js';
export * from './ssl.js';
export * from './topk.js';
export * from './contrast.js';
