# patterns.cmake — nlpd_tag_patterns: dates, times, money, percentages and
# numbers by hand-written patterns over the split stage's tokens (included
# from stages/tag/CMakeLists.txt). Pure C, no data files, no allocation.
add_library(nlpd_tag_patterns STATIC ${CMAKE_CURRENT_LIST_DIR}/patterns.c)
target_include_directories(nlpd_tag_patterns PUBLIC ${PROJECT_SOURCE_DIR}/include
                           ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(nlpd_tag_patterns PUBLIC nlpd_static PRIVATE nlpd_flags)

# nlpd-tag-patterns-eval: runs the patterns over JSONL documents split by
# nlpd_split: --fixture scores our own cases (tests/fixtures/tag/
# patterns.jsonl), --annotate writes FORMAT.md output for score.py, --bench
# prints ns/token. A development tool, not installed.
if(TARGET nlpd_split)
  add_executable(nlpd-tag-patterns-eval ${CMAKE_CURRENT_LIST_DIR}/patterns-eval.c)
  target_link_libraries(nlpd-tag-patterns-eval PRIVATE nlpd_tag_patterns nlpd_split
                        PkgConfig::JANSSON nlpd_flags)
endif()

if(BUILD_TESTING AND TARGET nlpd_split)
  nlpd_test(tag_patterns_test SOURCES ${PROJECT_SOURCE_DIR}/tests/unit/tag_patterns_test.c
            LIBS nlpd_tag_patterns nlpd_split PkgConfig::JANSSON LABELS unit)
endif()
