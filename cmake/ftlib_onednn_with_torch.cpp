// Configure-time check (cmake/ftlibDependencies.cmake): does oneDNN's sgemm compute a product in a
// program that also loads LibTorch? Linked with both; exit 0 and no output when it does.
#include <oneapi/dnnl/dnnl.h>

#include <cstdio>

int main() {
  const float a[4] = {1, 2, 3, 4};
  const float b[4] = {5, 6, 7, 8};
  float c[4] = {0, 0, 0, 0};
  const dnnl_status_t status = dnnl_sgemm('N', 'N', 2, 2, 2, 1.0F, a, 2, b, 2, 0.0F, c, 2);
  if (status != dnnl_success) {
    std::printf("dnnl_sgemm returns status %d next to this LibTorch (two copies of oneDNN in one process)",
                static_cast<int>(status));
    return 1;
  }
  if (c[0] != 19 || c[1] != 22 || c[2] != 43 || c[3] != 50) {
    std::printf("dnnl_sgemm computes a wrong product next to this LibTorch");
    return 1;
  }
  return 0;
}
