/** s3rver in its own process for the artifact bench, so its CPU does not share the bench's event loop. Prints `{"port":…}`. */
import { startS3 } from '../helpers/s3.ts';

const s3 = await startS3(process.argv[2] ?? 'flowyard-bench');
console.log(JSON.stringify({ port: Number(new URL(s3.endpoint).port) }));
const stop = () => void s3.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
