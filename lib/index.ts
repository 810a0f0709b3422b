export { DlswapError, isDlswapError } from './errors';
export type { DlswapErrorCode } from './errors';
