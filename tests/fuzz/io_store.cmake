# Fuzz targets of the blob stores: Walrus publisher/aggregator answers and manifests.
if(TARGET cx_io)
  cx_add_fuzz(io_store_walrus_response SOURCES fuzz_io_store_walrus_response.c LIBS cx_io)
  target_include_directories(fuzz_io_store_walrus_response PRIVATE ${PROJECT_SOURCE_DIR}/io)
  cx_add_fuzz(io_store_manifest SOURCES fuzz_io_store_manifest.c LIBS cx_io)
  target_include_directories(fuzz_io_store_manifest PRIVATE ${PROJECT_SOURCE_DIR}/io)
endif()
