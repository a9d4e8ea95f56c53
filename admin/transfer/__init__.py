"""Export and import of executor groups and jobs as one versioned document."""
