"""VoxRad's built-in radiology vocabulary, grouped by body region and modality.

Provenance and licence: written for VoxRad by its developers from general radiology knowledge
(common anatomy, findings and viewer words of each region), released under VoxRad's own licence.
It is not copied from RadLex or any other terminology; sites add their own words with a lexicon
file (``asr.lexicon_path``).

The lists are what a clinician is likely to say about a study of that region. They feed the
recogniser's prompt only for a study of that region (see :mod:`voxrad.backends.asr.lexicon`):
a word that sounds like another finding ("emphysema" / "embolism") pulls the recogniser towards
itself, so no list is ever put in front of every question.
"""

from __future__ import annotations

#: Region -> terms, most useful first (a prompt keeps a prefix when its budget is short).
REGION_TERMS: dict[str, tuple[str, ...]] = {
    "chest": (
        "pneumothorax",
        "pleural effusion",
        "pulmonary embolism",
        "consolidation",
        "atelectasis",
        "nodule",
        "emphysema",
        "bronchiectasis",
        "ground glass",
        "opacities",
        "mediastinal",
        "lymphadenopathy",
        "hilar",
        "cardiomegaly",
        "pneumonia",
        "aorta",
        "trachea",
        "bronchus",
        "upper lobe",
        "middle lobe",
        "lower lobe",
        "lingula",
        "pericardial",
        "endotracheal tube",
        "rib fracture",
        "interstitial",
        "fibrosis",
        "cavitation",
    ),
    "abdomen": (
        "kidney",
        "liver",
        "spleen",
        "pancreas",
        "adrenal",
        "gallbladder",
        "gallstones",
        "appendix",
        "aorta",
        "free fluid",
        "ascites",
        "hydronephrosis",
        "lesion",
        "cyst",
        "bowel",
        "colon",
        "sigmoid",
        "diverticulitis",
        "appendicitis",
        "aortic aneurysm",
        "common bile duct",
        "portal vein",
        "splenomegaly",
        "hepatomegaly",
        "bladder",
        "pelvis",
        "lymph nodes",
        "hernia",
        "pancreatitis",
        "cholecystitis",
        "metastases",
    ),
    "head": (
        "infarct",
        "hemorrhage",
        "hematoma",
        "subdural",
        "epidural",
        "subarachnoid",
        "ventricles",
        "hydrocephalus",
        "midline shift",
        "white matter",
        "gray matter",
        "cerebellum",
        "brainstem",
        "frontal lobe",
        "temporal lobe",
        "parietal",
        "occipital",
        "hemisphere",
        "enhancement",
        "restricted diffusion",
        "edema",
        "skull fracture",
        "sinuses",
        "mass effect",
        "aneurysm",
        "lesions",
    ),
    "spine": (
        "vertebra",
        "vertebral body",
        "disc herniation",
        "spinal stenosis",
        "spinal cord",
        "lumbar spine",
        "cervical spine",
        "thoracic spine",
        "compression fracture",
        "foraminal",
        "nerve root",
        "spondylolisthesis",
        "facet",
        "sacrum",
    ),
    "knee": (
        "meniscus",
        "anterior cruciate ligament",
        "posterior cruciate ligament",
        "collateral ligament",
        "joint effusion",
        "cartilage",
        "patella",
        "femur",
        "tibia",
        "bone marrow edema",
        "tear",
    ),
    "shoulder": (
        "rotator cuff",
        "supraspinatus",
        "labrum",
        "humerus",
        "glenoid",
        "joint effusion",
        "tear",
        "dislocation",
    ),
    "breast": ("mass", "calcifications", "asymmetry", "axilla", "lymph nodes", "cyst"),
}

#: Study words (body part, series names) that say which region a study shows.
REGION_KEYS: dict[str, tuple[str, ...]] = {
    "chest": ("chest", "thorax", "lung", "thoracic", "pulmonary", "cardiac", "heart"),
    "abdomen": ("abdomen", "abd", "pelvis", "liver", "kidney", "renal", "abdominal", "urogram"),
    "head": ("head", "brain", "skull", "neuro", "cerebral", "flair"),
    "spine": ("spine", "lspine", "cspine", "tspine", "lumbar", "cervical", "sacrum"),
    "knee": ("knee",),
    "shoulder": ("shoulder",),
    "breast": ("breast", "mammogram", "mammo"),
}

#: Words for moving around the viewer, said with every kind of study. ("left" and "right" in
#: the prompt did not stop tiny.en hearing "lift" and made it invent endings on read speech:
#: measured, left out.)
VIEWER_TERMS: tuple[str, ...] = ("axial", "coronal", "sagittal", "slice", "window")

#: With no study region known (nothing open, ``voxrad transcribe`` of a file): common findings
#: of different sounds. Left out: the words measured to replace another finding when offered
#: without a study ("emphysema" for "embolism" and "hematoma", "infarct" for "emphysema",
#: "aneurysm" for "Any", "mediastinum" for "mediastinal", "hemorrhage" for "hematoma").
GENERAL_TERMS: tuple[str, ...] = (
    "pneumothorax", "pleural effusion", "consolidation", "atelectasis", "nodule", "lesion",
    "fracture", "hydronephrosis", "ascites", "lymphadenopathy", "cardiomegaly",
)  # fmt: skip

#: Modality -> words said about that kind of image (a window name is a CT word).
MODALITY_TERMS: dict[str, tuple[str, ...]] = {
    "CT": ("contrast", "lung window", "bone window"),
    "MRI": ("contrast", "diffusion", "T2", "FLAIR"),
    "radiograph": (),
    # "echogenic" replaced "thickened" in "Is the gallbladder wall thickened?" (measured).
    "ultrasound": (),
}
