/**
 * `NODE_DEBUG=dlswap node app.js` traces what dlswap does, one line per phase of each open and
 * reload, on stderr (util.debuglog: `DLSWAP <pid>: ...`). Off, it costs one boolean test per phase.
 */
import util from 'node:util';

export const debug = util.debuglog('dlswap');
