# The client side: nlpd_client (the wire protocol for nlpctl, end-to-end
# tests and the benchmark) and nlpctl. Included from daemon/CMakeLists.txt.

add_library(nlpd_client STATIC ${CMAKE_CURRENT_LIST_DIR}/client.c)
target_include_directories(nlpd_client PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(nlpd_client PUBLIC nlpd_static PRIVATE nlpd_flags)
add_library(nlpd::client ALIAS nlpd_client)

add_executable(nlpctl ${CMAKE_CURRENT_LIST_DIR}/nlpctl.c)
target_compile_definitions(nlpctl PRIVATE NLPD_VERSION="${PROJECT_VERSION}")
target_link_libraries(nlpctl PRIVATE nlpd_client nlpd_flags)
install(TARGETS nlpctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
