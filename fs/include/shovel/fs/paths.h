// Path <-> id mapping of shovelfs (pure functions, thread-safe).
//
// Every cache id is the file "/<id>". A directory is a '/'-separated prefix:
// it exists while some id lies under it, or while its marker id
// "<dir>/.shovelfs.dir" exists. mkdir stores the marker (an empty blob whose
// attributes hold the directory's mode, owner and xattrs); rmdir deletes it.
// The marker never shows in listings and cannot be opened or created by name.
// The root directory is the empty path "".
//
// A file unlinked while this mount has it open is renamed to
// "/.shovelfs.open/<mount>-<ino>" (kOpenUnlinkedDir, hidden like the
// markers: not listed, not found by name) and deleted at its last close.
#pragma once

#include <string>
#include <string_view>

#include "shovel/status.h"

namespace shovel::fs {

inline constexpr std::string_view kDirMarker = ".shovelfs.dir";
inline constexpr std::string_view kOpenUnlinkedDir = ".shovelfs.open";
// Hard-linked files keep their bytes at "/.shovelfs.inodes/<mount>-<n>".
inline constexpr std::string_view kLinkDataDir = ".shovelfs.inodes";
inline constexpr size_t kMaxNameBytes = 255;
// The longest path (id) of a file or directory: a directory's marker id,
// "<path>/.shovelfs.dir", must fit in an id (kMaxIdBytes, 4096), so every
// path that can be a file can also be a directory. A mount point of 13 bytes
// or more thus takes every absolute path up to PATH_MAX (4095).
inline constexpr size_t kMaxPathBytes = 4096 - 1 - kDirMarker.size();

// The id of `name` inside directory `dir` ("" is the root). Errors:
// "name too long" (ENAMETOOLONG) for a name > 255 bytes or a path longer
// than kMaxPathBytes; InvalidArgument for anything else ValidateId rejects,
// and for the reserved names (the marker; kOpenUnlinkedDir and kLinkDataDir
// in the root).
Result<std::string> ChildId(std::string_view dir, std::string_view name);

// "a/b" -> "a/b/"; "" -> "" (the List prefix of a directory).
std::string DirPrefix(std::string_view dir);

// The marker id of directory `dir` ("a/b" -> "a/b/.shovelfs.dir"). The root
// has no marker; callers must not ask for it.
std::string MarkerId(std::string_view dir);

// True for the names shovelfs keeps to itself in directory `dir`.
bool IsReservedName(std::string_view dir, std::string_view name);

// The last component of a path ("a/b" -> "b", "" -> "").
std::string_view BaseName(std::string_view path);

}  // namespace shovel::fs
