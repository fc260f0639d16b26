# nlpd_tag_gazetteer: the gazetteer matcher (gazetteer.c), its built-in data
# (data/en/gazetteer.txt, compiled in), and nlpd-tag-gazetteer, the command
# that builds that file from the sources listed in data/README.md and
# measures it (gazetteer/README.md).

set(_gaz_data ${CMAKE_CURRENT_SOURCE_DIR}/data/en/gazetteer.txt)
set(_gaz_gen ${CMAKE_CURRENT_BINARY_DIR}/gazetteer_builtin.c)
add_custom_command(
  OUTPUT ${_gaz_gen}
  COMMAND ${CMAKE_COMMAND} -DOUT=${_gaz_gen} -DSYMBOL=nlpd__gaz_builtin_en
          "-DINPUTS=${_gaz_data}" -P ${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake
  DEPENDS ${_gaz_data} ${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake
  COMMENT "Embedding the gazetteer"
  VERBATIM)

add_library(nlpd_tag_gazetteer STATIC gazetteer.c ${_gaz_gen})
target_include_directories(nlpd_tag_gazetteer PUBLIC ${PROJECT_SOURCE_DIR}/include
                           ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(nlpd_tag_gazetteer PUBLIC nlpd_static PkgConfig::UTF8PROC
                      PRIVATE nlpd_flags)

# nlpd-tag-gazetteer build|eval|bench|match (gazetteer/tool.c).
add_executable(nlpd-tag-gazetteer gazetteer/tool.c)
target_link_libraries(nlpd-tag-gazetteer PRIVATE nlpd_tag_gazetteer nlpd_split PkgConfig::JANSSON
                      nlpd_flags)

if(BUILD_TESTING)
  nlpd_test(tag_gazetteer_test SOURCES ${PROJECT_SOURCE_DIR}/tests/unit/tag_gazetteer_test.c
            LIBS nlpd_tag_gazetteer LABELS unit)
endif()

# The shipped file is cut the way nlpd_split cuts text today (a tokenizer
# change needs a rebuild: stages/tag/gazetteer/README.md), and the builder
# works end to end on a tiny list.
if(BUILD_TESTING)
  add_test(NAME tag_gazetteer_tokens
           COMMAND nlpd-tag-gazetteer check ${CMAKE_CURRENT_SOURCE_DIR}/data/en/gazetteer.txt)
  add_test(NAME tag_gazetteer_build
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/gazetteer/check-build.sh
                   $<TARGET_FILE:nlpd-tag-gazetteer> ${PROJECT_SOURCE_DIR})
  set_tests_properties(tag_gazetteer_tokens tag_gazetteer_build PROPERTIES LABELS unit TIMEOUT 60)
endif()
