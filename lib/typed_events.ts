/**
 * node's EventEmitter, typed by an event map: what HotLibrary (lib/hot/events.ts) and LibraryWatcher
 * (lib/watch/watch.ts) extend. Shared by both layers, so neither imports the other for it.
 */
import { EventEmitter } from 'node:events';

/** A listener of event K of the event map E. */
export type Listener<E, K extends keyof E> = E[K] extends unknown[] ? (...args: E[K]) => void : never;

/** The listener methods of an EventEmitter whose events are the map E. */
export interface TypedListeners<E> {
  on<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  once<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  off<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  addListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  removeListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  prependListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  prependOnceListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
}

type ListenerMethod = keyof TypedListeners<unknown>;

/**
 * node's EventEmitter with listeners typed by the event map E: a misspelt event name or a listener
 * of the wrong shape is a compile-time error (`hot.on('relaod', ...)`). The same class at run time.
 */
export type TypedEventEmitter<E> = Omit<EventEmitter, ListenerMethod> & TypedListeners<E>;
export const TypedEventEmitter = EventEmitter as unknown as new <E>() => TypedEventEmitter<E>;
