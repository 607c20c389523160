{
  "targets": [
    {
      "target_name": "lally_native",
      "sources": ["native/malloc_tuning.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
