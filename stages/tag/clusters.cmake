# nlpd-tag-clusters: Brown word clusters from unlabeled text (a build-time
# tool; its output, data/en/clusters.txt, is committed). The clustering is
# a small static library so the unit test can drive it directly.
add_library(nlpd_tag_clusters_core STATIC clusters/brown.c)
target_include_directories(nlpd_tag_clusters_core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/clusters
                           ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(nlpd_tag_clusters_core PUBLIC nlpd_static m PRIVATE nlpd_flags)

add_executable(nlpd-tag-clusters clusters/main.c)
target_link_libraries(nlpd-tag-clusters PRIVATE nlpd_tag_clusters_core nlpd_split
                      PkgConfig::JANSSON nlpd_flags)

if(BUILD_TESTING)
  nlpd_test(tag_clusters_test SOURCES ${PROJECT_SOURCE_DIR}/tests/unit/tag_clusters_test.c
            LIBS nlpd_tag_clusters_core nlpd_split LABELS unit)
endif()

# nlpd-tag-embclusters: word vectors (GloVe's) cut into a binary tree of
# classes by bisecting 2-means, read by the tagger like the Brown paths
# (data/en/wordclasses.txt, committed).
add_library(nlpd_tag_embtree STATIC clusters/embtree.c)
target_include_directories(nlpd_tag_embtree PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/clusters
                           ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(nlpd_tag_embtree PUBLIC m PRIVATE nlpd_flags)
add_executable(nlpd-tag-embclusters clusters/embmain.c)
target_link_libraries(nlpd-tag-embclusters PRIVATE nlpd_tag_embtree nlpd_static nlpd_flags)
if(BUILD_TESTING)
  nlpd_test(tag_embtree_test SOURCES ${PROJECT_SOURCE_DIR}/tests/unit/tag_embtree_test.c
            LIBS nlpd_tag_embtree nlpd_static LABELS unit)
endif()
