# Install rules and the Debian package (docs/deployment.md, "Debian package").
#
# The .deb comes from CPack's DEB generator, so the package is made from the
# same install() rules as `cmake --install`: no second build system to keep in
# step with this one, and dpkg-shlibdeps computes Depends from the binary's
# real shared libraries. scripts/package.sh drives it; a developer build only
# gains install rules and, when scdoc is present, the man page target.
include(GNUInstallDirs)

set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

install(TARGETS gastown-credfs RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS
          mount-scripts/gastown-creds-mount mount-scripts/gastown-creds-umount
          mount-scripts/gastown-creds-supervise mount-scripts/gastown-creds-git-setup
        DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES mount-scripts/entrypoint.example.sh packaging/gastown-credfs.example.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES packaging/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CREDFS_PACKAGE_MAINTAINER
    "gastown-credfs maintainers <maintainers@users.noreply.r-seed-23722f2f.example>"
    CACHE STRING "Maintainer field of the Debian package")

# Debian policy 12.7: a native package's changelog, compressed with gzip -9n
# (-n: no name or time stamp inside, so the package is reproducible).
configure_file(packaging/changelog.in ${PROJECT_BINARY_DIR}/packaging/changelog @ONLY)
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/packaging/changelog.gz
  COMMAND gzip -9nc ${PROJECT_BINARY_DIR}/packaging/changelog > ${PROJECT_BINARY_DIR}/packaging/changelog.gz
  DEPENDS ${PROJECT_BINARY_DIR}/packaging/changelog
  VERBATIM)
add_custom_target(credfs_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/packaging/changelog.gz)
install(FILES ${PROJECT_BINARY_DIR}/packaging/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The systemd unit is written on its own branch; install it once it exists.
if(EXISTS ${PROJECT_SOURCE_DIR}/packaging/gastown-credfs@.service)
  install(FILES packaging/gastown-credfs@.service DESTINATION lib/systemd/system)
endif()

# gastown-credfs(8) from docs/gastown-credfs.8.scd. Without scdoc a developer
# build simply has no man page; scripts/package.sh requires it
# (CREDFS_REQUIRE_MAN).
find_program(SCDOC_EXECUTABLE scdoc)
option(CREDFS_REQUIRE_MAN "Fail to configure when scdoc is missing" OFF)
if(SCDOC_EXECUTABLE)
  set(CREDFS_MAN_PAGE ${PROJECT_BINARY_DIR}/man/gastown-credfs.8)
  add_custom_command(
    OUTPUT ${CREDFS_MAN_PAGE} ${CREDFS_MAN_PAGE}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${SCDOC_EXECUTABLE} < ${PROJECT_SOURCE_DIR}/docs/gastown-credfs.8.scd > ${CREDFS_MAN_PAGE}
    COMMAND gzip -9nc ${CREDFS_MAN_PAGE} > ${CREDFS_MAN_PAGE}.gz
    DEPENDS ${PROJECT_SOURCE_DIR}/docs/gastown-credfs.8.scd
    VERBATIM)
  add_custom_target(credfs_man ALL DEPENDS ${CREDFS_MAN_PAGE} ${CREDFS_MAN_PAGE}.gz)
  # The mount-scripts are described in the same page (MOUNT SCRIPTS); their
  # pages are links to it, as man-db's whatis finds them in its NAME line.
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/man)
  set(credfs_man_files ${CREDFS_MAN_PAGE}.gz)
  foreach(script gastown-creds-mount gastown-creds-umount gastown-creds-supervise
                 gastown-creds-git-setup)
    file(CREATE_LINK gastown-credfs.8.gz ${PROJECT_BINARY_DIR}/man/${script}.8.gz SYMBOLIC)
    list(APPEND credfs_man_files ${PROJECT_BINARY_DIR}/man/${script}.8.gz)
  endforeach()
  install(FILES ${credfs_man_files} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
elseif(CREDFS_REQUIRE_MAN)
  message(FATAL_ERROR "scdoc not found: the man page needs it (apt-get install scdoc)")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gastown-credfs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "FUSE daemon keeping git credentials fresh")
set(CPACK_PACKAGE_DESCRIPTION
    "gastown-credfs mounts a directory holding one git credential-store file
per configured rig. Every read of such a file returns an installation token
that is fresh: renewed in the background before it expires, and renewed on
demand when a read finds it stale. Tokens come from the Gastown control
plane, a GitHub App, a credential command or a personal access token.
Without FUSE it keeps the same files fresh as plain files, and it also
serves as git's credential helper.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CREDFS_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps' Depends are appended to these.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS fuse3)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS git)
# Control files 0644 and md5sums, as dpkg-deb and lintian expect.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
