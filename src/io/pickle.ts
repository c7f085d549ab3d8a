/**
 * PyTorch files (`torch.save`: a zip with `<name>/data.pkl`, or a bare pickle in the legacy format) are
 * recognised by their first bytes and refused with a message that says how to convert them: irllrec never
 * unpickles anything (a pickle can run arbitrary code when loaded).
 */
import { IrllrecError } from '../errors.js';

const CONVERT =
  "convert it in Python: `import torch; from safetensors.torch import save_file; save_file(torch.load(path, map_location='cpu'), 'model.safetensors')` " +
  "(a checkpoint that wraps the weights in a dict: save_file(ckpt['state_dict'], …))";

/** Throws IrllrecError('format') when `bytes` is a PyTorch pickle (zip or legacy); returns otherwise. */
export function refusePickle(bytes: Uint8Array, source: string): void {
  const zip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  if (zip) {
    // The first entry's name (local file header: name length at 26, name at 30): torch.save writes
    // '<archive>/data.pkl' first.
    const n = bytes.length >= 30 ? bytes[26] | (bytes[27] << 8) : 0;
    const name = new TextDecoder().decode(bytes.subarray(30, 30 + Math.min(n, 512)));
    if (name.endsWith('.pkl')) throw new IrllrecError('format', `${source}: a PyTorch checkpoint (torch.save zip archive with a pickle), which irllrec does not load: ${CONVERT}`);
    throw new IrllrecError('format', `${source}: a zip archive (first entry '${name}'), not a safetensors / .npy file${name.endsWith('.npy') ? ' (an .npz: extract its arrays with numpy)' : ''}`);
  }
  // A safetensors header of 640, 896, 1152 or 1408 bytes starts with the same two bytes as a pickle (its
  // little-endian length 0x0280…0x0580), then six zero bytes and '{': no pickle does (opcode 0 does not exist).
  const safetensors = bytes.length >= 9 && bytes.subarray(2, 8).every((b) => b === 0) && bytes[8] === 0x7b;
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5 && !safetensors) {
    throw new IrllrecError('format', `${source}: a Python pickle (protocol ${bytes[1]}, e.g. a legacy torch.save .pth), which irllrec never unpickles: ${CONVERT}`);
  }
}
