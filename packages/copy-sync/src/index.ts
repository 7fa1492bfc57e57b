// Public API: filled in by the package's issue. Kept empty so the workspace builds.
export {};
