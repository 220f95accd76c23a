/*
 * Part of the native hot path: hotpath.c includes every part, in order, as one translation unit.
 * Node-API arguments: the context, typed arrays and `create`'s rules, each checked with a TypeError
 * that names it.
 */
#pragma once

#define CHECK(call)                                                       \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error(env, NULL, "adx_native: bad arguments to " #call); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

static Ctx *ctx_arg(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "adx_native: expected a context");
    return NULL;
  }
  return data;
}

/* The arguments of a call whose first is a context: fills argv[0, n) (undefined past those given). */
static Ctx *ctx_call(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "adx_native: bad arguments");
    return NULL;
  }
  return ctx_arg(env, argv[0]);
}

/* The data of a typed array argument of `type` with at least `min_len` elements; NULL (and a
 * pending TypeError naming `what`) otherwise. */
static void *typed_arg(napi_env env, napi_value v, napi_typedarray_type type, size_t min_len, size_t *len, const char *what) {
  napi_typedarray_type actual;
  napi_value ab;
  size_t offset, n;
  void *p = NULL;
  if (napi_get_typedarray_info(env, v, &actual, &n, &p, &ab, &offset) != napi_ok || actual != type || n < min_len) {
    char msg[160];
    snprintf(msg, sizeof msg, "adx_native: %s", what);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  if (len != NULL) *len = n;
  return p == NULL ? (void *)"" : p; /* an empty array may have no data pointer */
}

/* A number property of `obj` in 1..2^31-1, or 0 (and a pending TypeError). */
static uint32_t rule_number(napi_env env, napi_value obj, const char *name) {
  napi_value v;
  double d;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok || napi_get_value_double(env, v, &d) != napi_ok || !(d >= 1) || d > 2147483647.0) {
    char msg[120];
    snprintf(msg, sizeof msg, "adx_native: rules.%s must be a number from 1 to 2^31-1", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return (uint32_t)d;
}

/* rules[name]: an array of Uint8Array, copied into `out`; 0 (and a pending exception) otherwise. */
static int bytes_arg(napi_env env, napi_value obj, const char *name, Bytes *out) {
  napi_value list;
  bool is_array = false;
  uint32_t n = 0;
  char msg[120];
  snprintf(msg, sizeof msg, "adx_native: rules.%s must be an array of Uint8Array", name);
  if (napi_get_named_property(env, obj, name, &list) != napi_ok || napi_is_array(env, list, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, list, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  out->at = calloc(n ? n : 1, sizeof(uint8_t *));
  out->len = calloc(n ? n : 1, sizeof(uint32_t));
  if (out->at == NULL || out->len == NULL) {
    napi_throw_error(env, NULL, "adx_native: out of memory");
    return 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    size_t len;
    if (napi_get_element(env, list, i, &item) != napi_ok) return 0;
    const uint8_t *bytes = typed_arg(env, item, napi_uint8_array, 0, &len, msg + 12);
    if (bytes == NULL) return 0;
    if ((out->at[i] = malloc(len ? len : 1)) == NULL) {
      napi_throw_error(env, NULL, "adx_native: out of memory");
      return 0;
    }
    memcpy(out->at[i], bytes, len);
    out->len[i] = (uint32_t)len;
    out->n = i + 1;
  }
  return 1;
}

/* rules { maxLabelBytes, maxLabelsPerSeries, lifted, addNames, addValues: Uint8Array[] } → Rules. */
static Rules *rules_arg(napi_env env, napi_value obj) {
  Rules *rules = calloc(1, sizeof(Rules));
  if (rules == NULL) {
    napi_throw_error(env, NULL, "adx_native: out of memory");
    return NULL;
  }
  if ((rules->max_label_bytes = rule_number(env, obj, "maxLabelBytes")) == 0 || (rules->max_labels = rule_number(env, obj, "maxLabelsPerSeries")) == 0 ||
      !bytes_arg(env, obj, "lifted", &rules->lifted) || !bytes_arg(env, obj, "addNames", &rules->add_names) || !bytes_arg(env, obj, "addValues", &rules->add_values)) {
    rules_free(rules);
    return NULL;
  }
  if (rules->add_names.n != rules->add_values.n) {
    napi_throw_type_error(env, NULL, "adx_native: rules.addNames and rules.addValues must have the same length");
    rules_free(rules);
    return NULL;
  }
  return rules;
}
