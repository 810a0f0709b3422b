/**
 * Exports that load their module on first use, so that `require('dlswap')` loads the addon and the
 * error type and nothing else (bench/startup.mjs measures it beside koffi). The ESM entry
 * destructures the CommonJS exports at import time: a getter would load everything then, so a lazy
 * export is a value that stands in for the real one instead: a function that forwards its calls,
 * or, for a class, a proxy that forwards construction, statics and `instanceof`.
 */

/** A module loader that runs `load` once, on the first call. */
export function once<T>(load: () => T): () => T {
  let value: T | undefined;
  let loaded = false;
  return () => {
    if (!loaded) {
      value = load();
      loaded = true;
    }
    return value as T;
  };
}

/** A function that calls the one `get` returns (loading its module on the first call). */
export function lazyFunction<F extends (...args: never[]) => unknown>(name: string, get: () => F): F {
  const forward = {
    [name](this: unknown, ...args: unknown[]): unknown {
      return Reflect.apply(get() as unknown as (...a: unknown[]) => unknown, this, args);
    },
  }[name];
  return forward as unknown as F;
}

/**
 * A stand-in for the class `get` returns: `new`, `extends`, statics and `instanceof` act on the
 * real class, loaded on first use. (The stand-in's own `prototype` property is writable, the real
 * class's is not: its descriptor is reported writable, the one difference a program can see.)
 */
export function lazyClass<C extends Function>(name: string, get: () => C): C {
  // A strict-mode plain function: constructible, and its only non-configurable own property is
  // `prototype` (which the traps below redirect), so the proxy's invariants allow every forward.
  // biome-ignore lint/complexity/useArrowFunction: an arrow function is not constructible
  const target = { [name]: function () {} }[name];
  const real = () => get() as unknown as new (...a: unknown[]) => object;
  const proxy: object = new Proxy(target, {
    construct: (_t, args, newTarget) => Reflect.construct(real(), args, newTarget === proxy ? real() : newTarget),
    apply: (_t, thisArg, args) => Reflect.apply(real() as unknown as (...a: unknown[]) => unknown, thisArg, args),
    get: (_t, key) => Reflect.get(real(), key, real()),
    set: (_t, key, value) => Reflect.set(real(), key, value, real()),
    has: (_t, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (t, key) => {
      const d = Reflect.getOwnPropertyDescriptor(real(), key);
      const own = Reflect.getOwnPropertyDescriptor(t, key);
      if (d && own && !own.configurable && own.writable && 'value' in d) return { ...d, writable: true, configurable: false };
      if (d && !own) return { ...d, configurable: true };
      return d;
    },
    defineProperty: (_t, key, d) => Reflect.defineProperty(real(), key, d),
    deleteProperty: (_t, key) => Reflect.deleteProperty(real(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
  });
  return proxy as C;
}
