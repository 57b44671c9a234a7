# netregions: brain networks, regions and functional connectomes from fMRI runs.
# The workflow lives in workflow/Snakefile (catalog layout); this entry point only includes it
# and names the default target, because a default target defined in an included file is ignored.


include: "workflow/Snakefile"


rule default:
    default_target: True
    input:
        rules.all.input,
