import { benchLogMemory } from './log-memory.ts';
import { benchTryActivate } from './try-activate.ts';

benchTryActivate();
await benchLogMemory();
