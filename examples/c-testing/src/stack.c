/* A bounded stack of ints, kept in globals: each test gets a fresh instance of the library, so each
 * starts with an empty stack. It has a bug planted in it (see README.md): popping an empty stack
 * reads through a null pointer. */
#include "stack.h"

#include <stddef.h>

#define CAPACITY 8

static int items[CAPACITY];
static int *top = NULL; /* the last pushed item, NULL when empty */

int stack_push(int value) {
  int *next = top == NULL ? items : top + 1;
  if (next == items + CAPACITY) return -1;
  *next = value;
  top = next;
  return 0;
}

int stack_pop(void) {
  int value = *top; /* the planted bug: no check for an empty stack */
  top = top == items ? NULL : top - 1;
  return value;
}

int stack_size(void) { return top == NULL ? 0 : (int)(top - items) + 1; }

int stack_peek(void) { return top == NULL ? -1 : *top; }
