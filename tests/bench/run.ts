import { benchTryActivate } from './try-activate.ts';

benchTryActivate();
