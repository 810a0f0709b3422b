/* A bounded stack of ints: the C library under test in this example (see README.md). */
#ifndef STACK_H
#define STACK_H

int stack_push(int value); /* 0, or -1 when full */
int stack_pop(void);       /* the top value, or -1 when empty */
int stack_size(void);
int stack_peek(void); /* the top value without removing it, or -1 when empty */

#endif
