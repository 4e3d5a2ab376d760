/**
 * The body of `appendLogFrames` (runner protocol v1): log chunks as raw bytes, no base64 and no JSON.
 * A body is frames back to back; each frame is a 12-byte header of three unsigned 32-bit big-endian integers
 * (step index, sequence number, data length) followed by that many bytes of UTF-8 text.
 */
export const LOG_FRAMES_CONTENT_TYPE = 'application/vnd.flowyard.log-frames';
export const LOG_FRAME_HEADER_BYTES = 12;
export const MAX_LOG_FRAMES = 1000;

export interface LogFrame {
  stepIndex: number;
  seq: number;
  data: Uint8Array;
}

/** A bad frames body; the message names the frame and the byte offset. */
export class LogFramesError extends Error {
  override name = 'LogFramesError';
}

export function encodeLogFrames(frames: readonly LogFrame[]): Uint8Array<ArrayBuffer> {
  const body = new Uint8Array(frames.reduce((n, frame) => n + LOG_FRAME_HEADER_BYTES + frame.data.byteLength, 0));
  const view = new DataView(body.buffer);
  let at = 0;
  for (const frame of frames) {
    view.setUint32(at, frame.stepIndex);
    view.setUint32(at + 4, frame.seq);
    view.setUint32(at + 8, frame.data.byteLength);
    body.set(frame.data, at + LOG_FRAME_HEADER_BYTES);
    at += LOG_FRAME_HEADER_BYTES + frame.data.byteLength;
  }
  return body;
}

/** The frames of `body`, their data views into it (nothing copied); throws `LogFramesError` on a malformed body. */
export function decodeLogFrames(body: Uint8Array): LogFrame[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const frames: LogFrame[] = [];
  let at = 0;
  while (at < body.byteLength) {
    const where = `log frame ${frames.length} (at byte ${at})`;
    if (frames.length === MAX_LOG_FRAMES) throw new LogFramesError(`${where}: a body holds at most ${MAX_LOG_FRAMES} frames`);
    if (body.byteLength - at < LOG_FRAME_HEADER_BYTES) {
      throw new LogFramesError(`${where}: the body ends inside a frame header (${body.byteLength - at} of ${LOG_FRAME_HEADER_BYTES} bytes)`);
    }
    const length = view.getUint32(at + 8);
    const start = at + LOG_FRAME_HEADER_BYTES;
    if (start + length > body.byteLength) {
      throw new LogFramesError(`${where}: the header announces ${length} bytes of data but only ${body.byteLength - start} follow`);
    }
    frames.push({ stepIndex: view.getUint32(at), seq: view.getUint32(at + 4), data: body.subarray(start, start + length) });
    at = start + length;
  }
  return frames;
}
