/**
 * Typed errors. Every error irllrec throws on purpose is an `IrllrecError` whose message says what was
 * wrong and where (argument, file, line, limit), so callers can branch on `code` and users can act on it.
 */
export type IrllrecErrorCode =
  | 'shape' // tensor shapes or sizes that do not fit together
  | 'range' // ids or indices out of range, bad option values
  | 'nonfinite' // NaN / Infinity where a finite value is required
  | 'limit' // a buffer or dispatch over the device's limits
  | 'gpu' // a WebGPU validation or out-of-memory error
  | 'device-lost' // the GPU device was lost or destroyed
  | 'no-adapter' // no WebGPU adapter could be acquired
  | 'data' // malformed data file or array
  | 'format' // malformed model / checkpoint / npy file
  | 'io' // a path that cannot be read or written (missing, not a regular file, too large, not writable)
  | 'disposed' // use of a released tensor or backend
  | 'aborted'; // an AbortSignal fired

export class IrllrecError extends Error {
  readonly code: IrllrecErrorCode;
  constructor(code: IrllrecErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IrllrecError';
    this.code = code;
  }
}

export class DeviceLostError extends IrllrecError {
  constructor(message: string) {
    super('device-lost', message);
    this.name = 'DeviceLostError';
  }
}

export class GpuError extends IrllrecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('gpu', message, options);
    this.name = 'GpuError';
  }
}

export function shapeError(where: string, message: string): IrllrecError {
  return new IrllrecError('shape', `${where}: ${message}`);
}
