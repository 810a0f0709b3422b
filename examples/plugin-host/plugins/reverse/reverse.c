/* The `reverse` plugin of examples/plugin-host: GET /reverse/<text> answers the text backwards. It
 * has no dlswap_init: a plain C library is a plugin as it is. */
#include <stdio.h>
#include <string.h>

int handle(const char *req, char *out, size_t cap) {
  const char *path = strchr(req, ' ');
  const char *text = path != NULL ? path + 1 : req;
  if (text[0] == '/') text++;
  size_t len = strcspn(text, "/?");
  if (len + 2 > cap) return (int)len + 1;
  for (size_t i = 0; i < len; i++) out[i] = text[len - 1 - i];
  out[len] = '\n';
  out[len + 1] = '\0';
  return (int)len + 1;
}
