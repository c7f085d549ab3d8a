/**
 * Node's WebGPU: Dawn through the npm `webgpu` package. Installs the WebGPU globals (GPUBufferUsage, …)
 * once and creates the `GPU` entry point. Only the `node` entry imports this module.
 */
import { create, globals } from 'webgpu';

let gpu: GPU | null = null;

/** Dawn's `GPU` object (created once per process). `adapter=llvmpipe` style options pass through. */
export function nodeGpu(options: string[] = []): GPU {
  if (!gpu) {
    Object.assign(globalThis, globals);
    gpu = create(options) as GPU;
  }
  return gpu;
}
