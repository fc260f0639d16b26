# tests/bench/summarize.cmake — the summarize library benchmark (included
# from tests/CMakeLists.txt).
#
# nlpd-bench-summarize prints figures, it asserts nothing about speed:
# `cmake --build BUILD --target bench-summarize` prints articles/s for ~4 KB
# news articles (best and median of 5 runs), the heap allocations of the
# measured runs, split's and tag's time beside summarize's, and the time per
# sentence of documents of 1,250 to 100,000 sentences. Configure with
# -DCMAKE_BUILD_TYPE=Release for real figures. The CTest
# summarize_bench_smoke only proves it still runs.
if(TARGET nlpd_summarize AND TARGET nlpd_split)
  add_executable(nlpd-bench-summarize ${CMAKE_CURRENT_LIST_DIR}/summarize_bench.c)
  target_link_libraries(nlpd-bench-summarize PRIVATE nlpd_summarize nlpd_split nlpd_test_support
                        PkgConfig::JANSSON nlpd_flags)
  target_compile_definitions(nlpd-bench-summarize PRIVATE
    NLPD_SOURCE_DIR="${PROJECT_SOURCE_DIR}" NLPD_BENCH_BUILD_TYPE="${CMAKE_BUILD_TYPE}")
  if(TARGET nlpd_tag) # the tagger's time per article too (the stage's share)
    target_link_libraries(nlpd-bench-summarize PRIVATE nlpd_tag)
    target_compile_definitions(nlpd-bench-summarize PRIVATE NLPD_BENCH_HAVE_TAG=1)
  endif()
  add_test(NAME summarize_bench_smoke COMMAND nlpd-bench-summarize --smoke)
  set_tests_properties(summarize_bench_smoke PROPERTIES TIMEOUT 180 LABELS bench
                       ENVIRONMENT "NLPD_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  add_custom_target(bench-summarize
    COMMAND nlpd-bench-summarize
    DEPENDS nlpd-bench-summarize
    COMMENT "summarize library benchmark (${CMAKE_BUILD_TYPE} build)"
    USES_TERMINAL VERBATIM)
endif()
