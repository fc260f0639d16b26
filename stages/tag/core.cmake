# nlpd_tag: the CRF tagger library (features, CRF, model files, the public
# API of include/nlpd/tag.h), its built-in model, the trainer
# nlpd-tag-train, and tag_test. Included by stages/tag/CMakeLists.txt.

# The shipped model becomes a C array (cmake/EmbedFiles.cmake), so the
# library needs no data directory at run time. Without a model file the
# array is empty and nlpd_tag_model_load_builtin() reports NLPD_EMODEL.
set(_tag_model ${CMAKE_CURRENT_SOURCE_DIR}/data/en/model.bin)
set(_tag_gen ${CMAKE_CURRENT_BINARY_DIR}/tag_builtin.c)
if(EXISTS ${_tag_model})
  set(_tag_inputs ${_tag_model})
else()
  set(_tag_inputs "")
endif()
add_custom_command(
  OUTPUT ${_tag_gen}
  COMMAND ${CMAKE_COMMAND} -DOUT=${_tag_gen} -DSYMBOL=nlpd__tag_builtin_en
          "-DINPUTS=${_tag_inputs}" -P ${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake
  DEPENDS ${_tag_inputs} ${PROJECT_SOURCE_DIR}/cmake/EmbedFiles.cmake
  COMMENT "Embedding the tag model"
  VERBATIM)

add_library(nlpd_tag STATIC
  tag.c         # public API: a run over the sentences of a text
  features.c    # feature extraction, shared with the trainer
  crf.c         # Viterbi, forward-backward
  docpass.c     # one label per name across a document, later mentions
  model.c       # model files and the word cluster table
  ${_tag_gen})
target_include_directories(nlpd_tag PUBLIC ${PROJECT_SOURCE_DIR}/include
                           PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(nlpd_tag PUBLIC nlpd_split nlpd_static PkgConfig::UTF8PROC m
                      PRIVATE nlpd_flags)
# The gazetteer and the patterns are optional inputs of the features: the
# library builds and tags without them.
if(TARGET nlpd_tag_gazetteer)
  target_link_libraries(nlpd_tag PUBLIC nlpd_tag_gazetteer)
  target_compile_definitions(nlpd_tag PUBLIC NLPD_TAG_HAVE_GAZETTEER=1)
endif()
if(TARGET nlpd_tag_patterns)
  target_link_libraries(nlpd_tag PUBLIC nlpd_tag_patterns)
  target_compile_definitions(nlpd_tag PUBLIC NLPD_TAG_HAVE_PATTERNS=1)
endif()
add_library(nlpd::tag ALIAS nlpd_tag)

# nlpd-tag-train: trains the CRF from annotated JSON Lines, tags JSON Lines
# for score.py, and measures speed (stages/tag/README.md).
pkg_check_modules(LBFGS IMPORTED_TARGET liblbfgs)
if(LBFGS_FOUND AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/train/train.c)
  add_executable(nlpd-tag-train train/train.c)
  target_link_libraries(nlpd-tag-train PRIVATE nlpd_tag PkgConfig::JANSSON PkgConfig::LBFGS
                        nlpd_flags)
  target_include_directories(nlpd-tag-train PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  # Installed (and in the Debian package, with its manual): users train
  # models for their own text (docs/man/nlpd-tag-train.1.scd).
  install(TARGETS nlpd-tag-train RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# The committed model is what train/make-model.sh makes (about 10 minutes).
if(BUILD_TESTING AND TARGET nlpd-tag-train)
  add_test(NAME tag_model_reproducible
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/train/check-model.sh
                   $<TARGET_FILE:nlpd-tag-train> ${PROJECT_SOURCE_DIR})
  set_tests_properties(tag_model_reproducible PROPERTIES SKIP_RETURN_CODE 77 LABELS quality
                       TIMEOUT 3600)
  # Retraining takes about two minutes of optimized code; under the
  # sanitizers it would take most of CI's time for what the release build
  # already shows (the trainer is deterministic and the model is current).
  if(NLPD_SANITIZE)
    set_tests_properties(tag_model_reproducible PROPERTIES DISABLED TRUE)
  endif()
endif()

if(BUILD_TESTING AND EXISTS ${PROJECT_SOURCE_DIR}/tests/unit/tag_test.c)
  nlpd_test(tag_test SOURCES ${PROJECT_SOURCE_DIR}/tests/unit/tag_test.c
            LIBS nlpd_tag PkgConfig::JANSSON LABELS unit TIMEOUT 300)
  target_include_directories(tag_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  # Its end-to-end case runs the trainer.
  if(TARGET nlpd-tag-train)
    add_dependencies(tag_test nlpd-tag-train)
  endif()
endif()
