'use strict';
/**
 * Cells of the conformance suite that fail on the current loader, each exactly as recorded: the
 * library, the modes and scenarios, how it fails, and the class of issue 22 it belongs to.
 * test/conformance/conformance.test.ts passes such a cell only if it fails in one of the listed
 * ways (and, with `match`, with that text), and fails it as soon as it passes: remove an entry when
 * the fix for its class lands. Any failure not listed fails the suite. See docs/conformance.md,
 * "Known failures".
 *
 *   library    a name of libraries.cjs
 *   modes, scenarios
 *   kinds      'crash' (a signal while running), 'crash-at-exit' (a signal after every answer was
 *              right), 'hang' (killed at its budget), 'exit' (a nonzero exit without a result),
 *              'wrong', 'error', 'refused' (a refusal the suite does not expect)
 *   issue      'issue 22 H1' ...: the class, whose fix removes the entry
 *   what       what happens, in words
 *   match      (optional) a RegExp the failure's report must match
 *   timeoutMs  (optional) a shorter budget for a known hang (10 times a quiet hot cell's ~1.5 s)
 *   intermittent  (optional) a race, seen in some runs only ('1 of 6 runs'): the cell may also pass
 */

module.exports = [];
