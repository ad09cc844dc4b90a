# The Debian package (scripts/package, or `cpack -G DEB` in a build folder):
# bitbench_<version>_<arch>.deb installing under /usr. Library dependencies are computed by
# dpkg-shlibdeps from the executables (Qt's X11 platform and SVG icon plugins come with the
# libraries it finds: libqt6gui6, libqt6svg6).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/experiments/ DESTINATION ${CMAKE_INSTALL_DATADIR}/bitbench/experiments
  FILES_MATCHING PATTERN "*.json")
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME bitbench)
set(CPACK_PACKAGE_VENDOR bitbench)
set(CPACK_PACKAGE_CONTACT "bitbench developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "workbench for training neural networks with integer arithmetic")
set(CPACK_PACKAGE_DESCRIPTION
  "bitbench trains neural networks with integer arithmetic at chosen bitwidths (WAGE and its\n"
  "successors): integer codes with power-of-two scales, int32 products, bit-identical results\n"
  "with any thread count. The workbench (bitbench) shows curves and quantization error live,\n"
  "and bitbench-cli trains, sweeps, replays and exports. Runs are kept in SQLite.")
string(JOIN "" CPACK_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "dataset-fashion-mnist")
include(CPack)
