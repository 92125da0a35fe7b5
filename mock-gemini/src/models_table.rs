//! The catalog as of December 2026, one row per model, in the order `models.list` returns them:
//! the 3.x Flash line, 3.1 Pro Preview, 2.5 Flash-Lite (still live), Google's moving `-latest`
//! aliases, the embeddings, and the Gemini 4 previews (under `v1alpha` only; Carbon and Neon on
//! the paid tier only). Retired models (2.5 Pro and Flash since 1 December 2026, 3 Pro Preview,
//! 2.0 Flash, text-embedding-004) are not here: Google answers them 404. Context caches hold at
//! least 4,096 tokens (2,048 on 2.5 Flash-Lite), as Google's caching page lists them.

use crate::models_catalog::{ModelInfo, Thinking};

const MILLION: u32 = 1_048_576;

const FLASH_LEVELS: &[&str] = &["MINIMAL", "LOW", "MEDIUM", "HIGH"];
const PRO_LEVELS: &[&str] = &["LOW", "MEDIUM", "HIGH"];

/// A 3.x Flash model: levels from MINIMAL to HIGH (default HIGH).
const FLASH_3: ModelInfo = ModelInfo {
    id: "",
    version: "",
    display_name: "",
    description: "",
    output_limit: 65_536,
    input_limit: MILLION,
    thinking: Thinking::Always,
    budget_range: (1, 24_576),
    levels: FLASH_LEVELS,
    default_level: "HIGH",
    top_k: 64,
    generates: true,
    alpha_only: false,
    paid_only: false,
    serves_as: None,
    min_cache_tokens: 4_096,
};

/// A Gemini 4 preview: levels LOW to HIGH, served under `v1alpha` only.
const GEMINI_4: ModelInfo = ModelInfo {
    levels: PRO_LEVELS,
    alpha_only: true,
    ..FLASH_3
};

/// Every model the mock knows, in the order `models.list` returns them.
pub static CATALOG: [ModelInfo; 17] = [
    ModelInfo {
        id: "gemini-3.8-flash",
        version: "3.8",
        display_name: "Gemini 3.8 Flash",
        description: "Gemini 3.8 Flash, released in September of 2026",
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-3.7-flash",
        version: "3.7",
        display_name: "Gemini 3.7 Flash",
        description: "Gemini 3.7 Flash, released in August of 2026",
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-3.6-flash",
        version: "3.6",
        display_name: "Gemini 3.6 Flash",
        description: "Gemini 3.6 Flash, released in July of 2026",
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-3.5-flash",
        version: "3.5",
        display_name: "Gemini 3.5 Flash",
        description: "Gemini 3.5 Flash, released in May of 2026",
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-3.5-flash-lite",
        version: "3.5-flash-lite",
        display_name: "Gemini 3.5 Flash-Lite",
        description: "Gemini 3.5 Flash-Lite, released in July of 2026",
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-3.1-flash-lite",
        version: "3.1-flash-lite",
        display_name: "Gemini 3.1 Flash-Lite",
        description: "Gemini 3.1 Flash-Lite, released in May of 2026",
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-3.1-pro-preview",
        version: "3.1-pro-preview-02-2026",
        display_name: "Gemini 3.1 Pro Preview",
        description: "Gemini 3.1 Pro Preview",
        budget_range: (128, 32_768),
        levels: PRO_LEVELS,
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-2.5-flash-lite",
        version: "001",
        display_name: "Gemini 2.5 Flash-Lite",
        description: "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
        thinking: Thinking::OptIn,
        budget_range: (512, 24_576),
        levels: &[],
        min_cache_tokens: 2_048,
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-flash-latest",
        version: "Gemini Flash Latest",
        display_name: "Gemini Flash Latest",
        description: "Latest release of Gemini Flash",
        serves_as: Some("gemini-3.8-flash"),
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-flash-lite-latest",
        version: "Gemini Flash-Lite Latest",
        display_name: "Gemini Flash-Lite Latest",
        description: "Latest release of Gemini Flash-Lite",
        serves_as: Some("gemini-3.5-flash-lite"),
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-pro-latest",
        version: "Gemini Pro Latest",
        display_name: "Gemini Pro Latest",
        description: "Latest release of Gemini Pro",
        budget_range: (128, 32_768),
        levels: PRO_LEVELS,
        serves_as: Some("gemini-3.1-pro-preview"),
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-embedding-001",
        version: "001",
        display_name: "Gemini Embedding 001",
        description: "Obtain a distributed representation of a text.",
        output_limit: 1,
        input_limit: 2_048,
        thinking: Thinking::None,
        budget_range: (0, 0),
        levels: &[],
        top_k: 0,
        generates: false,
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-embedding-2",
        version: "2",
        display_name: "Gemini Embedding 2",
        description: "Multimodal embeddings of text, images, audio and video.",
        output_limit: 1,
        input_limit: 8_192,
        thinking: Thinking::None,
        budget_range: (0, 0),
        levels: &[],
        top_k: 0,
        generates: false,
        ..FLASH_3
    },
    ModelInfo {
        id: "gemini-4-argon",
        version: "4-argon-preview-10-2026",
        display_name: "Gemini 4 Argon",
        description: "Gemini 4 Argon preview",
        default_level: "MEDIUM",
        ..GEMINI_4
    },
    ModelInfo {
        id: "gemini-4-hydrogen",
        version: "4-hydrogen-preview-11-2026",
        display_name: "Gemini 4 Hydrogen",
        description: "Gemini 4 Hydrogen preview, the successor of Gemini 3.8 Flash",
        levels: &["LOW", "MEDIUM", "HIGH", "XHIGH"],
        ..GEMINI_4
    },
    ModelInfo {
        id: "gemini-4-carbon",
        version: "4-carbon-11-2026",
        display_name: "Gemini 4 Carbon",
        description: "Gemini 4 Carbon (paid tier)",
        paid_only: true,
        ..GEMINI_4
    },
    ModelInfo {
        id: "gemini-4-neon",
        version: "4-neon-preview-11-2026",
        display_name: "Gemini 4 Neon",
        description: "Gemini 4 Neon preview (paid tier)",
        paid_only: true,
        ..GEMINI_4
    },
];
