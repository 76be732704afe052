/** Every command of the program, one file each; a new command is one file and one line here. */

import type { RegisterCommand } from '../context.js';
import { registerInspect } from './inspect.js';
import { registerLs } from './ls.js';
import { registerRun } from './run.js';
import { registerExport } from './export.js';
import { registerVerify } from './verify.js';
import { registerRollback } from './rollback.js';

export const COMMANDS: readonly RegisterCommand[] = [registerRun, registerLs, registerInspect, registerExport, registerVerify, registerRollback];
