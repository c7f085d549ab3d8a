// A tiny static server for the built demo (demo/dist), on 127.0.0.1 only. WebGPU needs a secure context,
// which http://127.0.0.1 and http://localhost are.
//   PORT=5173 node demo/serve.mjs   (npm run demo builds first; PORT=0 picks a free port)
import { constants } from 'node:fs';
import { createServer } from 'node:http';
import { open, realpath, stat } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.tsv': 'text/tab-separated-values; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.npy': 'application/octet-stream',
};

/** Loopback addresses only: the demo server is never reachable from another machine. */
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Whether `file` is `base` or inside it (both absolute, normalised). */
const inside = (base, file) => file === base || file.startsWith(base + sep);

/**
 * The regular file under `base` (a real path) that `path` names, or null (403): after the textual check
 * against `..`, every symbolic link is resolved and the target must still be inside `base`, and it must be
 * a regular file (a directory serves its index.html; FIFOs, devices and sockets are refused).
 */
async function resolveServed(base, path) {
  let file = normalize(join(base, path));
  if (!inside(base, file)) return null;
  file = await realpath(file);
  if (!inside(base, file)) return null;
  if ((await stat(file)).isDirectory()) file = await realpath(join(file, 'index.html'));
  return inside(base, file) ? file : null;
}

/** Serve `root` on host:port (loopback only); resolves with the server and its URL once listening. */
export async function startServer({ root = join(dirname(fileURLToPath(import.meta.url)), 'dist'), port = 5173, host = '127.0.0.1' } = {}) {
  if (!LOOPBACK.has(host)) throw new Error(`demo server: host must be a loopback address (${[...LOOPBACK].join(', ')}), got '${host}'`);
  const base = await realpath(resolve(root));
  const server = createServer(async (req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      let path;
      try {
        path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      } catch {
        res.writeHead(400).end('bad request');
        return;
      }
      const file = await resolveServed(base, path);
      if (file === null) {
        res.writeHead(403).end('forbidden');
        return;
      }
      // Opened without blocking (a FIFO planted in the folder cannot hang the server), checked through the handle.
      const handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
      let body;
      try {
        if (!(await handle.stat()).isFile()) {
          res.writeHead(403).end('forbidden');
          return;
        }
        body = await handle.readFile();
      } finally {
        await handle.close();
      }
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      const missing = e && typeof e === 'object' && 'code' in e && (e.code === 'ENOENT' || e.code === 'ENOTDIR');
      res.writeHead(missing ? 404 : 500, { 'content-type': 'text/plain; charset=utf-8' }).end(missing ? 'not found' : 'server error');
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const addr = server.address();
      ok({ server, url: `http://${host}:${typeof addr === 'object' && addr ? addr.port : port}/` });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const port = process.env.PORT === undefined ? 5173 : Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`demo: PORT must be an integer in 0…65535, got '${process.env.PORT}'`);
    process.exit(2);
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), 'dist');
  if (!(await stat(join(root, 'index.html')).catch(() => null))) {
    console.error('demo: demo/dist is not built; run `npm run demo:build` (or `npm run demo`)');
    process.exit(1);
  }
  const { url } = await startServer({ root, port });
  console.log(`irllrec demo: ${url}`);
}
