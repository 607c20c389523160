/*
 * lally_native: the two glibc malloc controls the daemon sets (src/native/malloc-tuning.ts says why).
 * Off glibc both calls answer false and change nothing.
 */
#include <node_api.h>
#include <stdbool.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static napi_value boolean(napi_env env, bool value) {
  napi_value result;
  napi_get_boolean(env, value, &result);
  return result;
}

/* setMmapThreshold(bytes): mallopt(M_MMAP_THRESHOLD, bytes), which also stops glibc moving it. */
static napi_value set_mmap_threshold(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t bytes = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &bytes) != napi_ok || bytes <= 0) {
    napi_throw_type_error(env, NULL, "setMmapThreshold(bytes): bytes must be a positive int32");
    return NULL;
  }
#if defined(__GLIBC__)
  return boolean(env, mallopt(M_MMAP_THRESHOLD, bytes) == 1);
#else
  return boolean(env, false);
#endif
}

/* trim(): malloc_trim(0), which gives free pages of every arena back to the kernel. */
static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
#if defined(__GLIBC__)
  return boolean(env, malloc_trim(0) == 1);
#else
  return boolean(env, false);
#endif
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"setMmapThreshold", NULL, set_mmap_threshold, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trim", NULL, trim, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
