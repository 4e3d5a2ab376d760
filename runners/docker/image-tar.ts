// A `docker save` of an image ID names no image (manifest.json has RepoTags null). The runner saves by ID,
// so that no re-tag can swap the image between resolving and saving, and scanners should still report the
// name the workflow knows: manifest.json is rewritten while the archive is copied.
import { open } from 'node:fs/promises';

const BLOCK = 512;

function octal(block: Buffer, offset: number, width: number): number {
  const text = block
    .toString('ascii', offset, offset + width)
    .replace(/[\0 ]+$/, '')
    .trim();
  return text ? Number.parseInt(text, 8) : 0;
}

function withSize(header: Buffer, size: number): Buffer {
  const block = Buffer.from(header);
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** Copies the archive `source` to `dest` with `ref` as the RepoTags of its (single) image. */
export async function nameSavedImage(source: string, dest: string, ref: string): Promise<void> {
  const input = await open(source, 'r');
  const output = await open(dest, 'w');
  try {
    const read = async (length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await input.read(buffer, 0, length, null);
      if (bytesRead !== length) throw new Error('the saved image archive is truncated');
      return buffer;
    };
    for (;;) {
      const header = await read(BLOCK);
      if (header.every((byte) => byte === 0)) {
        await output.write(Buffer.alloc(2 * BLOCK));
        return;
      }
      const name = header.toString('utf8', 0, 100).replace(/\0.*$/s, '');
      const size = octal(header, 124, 12);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (name === 'manifest.json' && header[156] === 0x30) {
        const manifest = JSON.parse((await read(padded)).subarray(0, size).toString('utf8')) as Array<{ RepoTags?: string[] | null }>;
        const content = Buffer.from(JSON.stringify(manifest.map((entry) => ({ ...entry, RepoTags: [ref] }))));
        await output.write(withSize(header, content.length));
        await output.write(Buffer.concat([content, Buffer.alloc((BLOCK - (content.length % BLOCK)) % BLOCK)]));
        continue;
      }
      await output.write(header);
      for (let left = padded; left > 0; left -= Math.min(left, 1 << 20)) await output.write(await read(Math.min(left, 1 << 20)));
    }
  } finally {
    await input.close();
    await output.close();
  }
}
