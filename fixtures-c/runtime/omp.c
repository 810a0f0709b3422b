/* A plugin that uses OpenMP: libgomp starts a thread pool on the first parallel region, and the
 * pool outlives the call (its threads wait in libgomp for the next region). */
int omp_sum(int n) {
  long total = 0;
#pragma omp parallel for reduction(+ : total)
  for (int i = 1; i <= n; i++) total += i;
  return (int)(total % 1000000007L);
}
