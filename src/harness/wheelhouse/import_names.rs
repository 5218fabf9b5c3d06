//! The module a distribution installs, so that a generated wheel is imported
//! under the same name as the real one (`check_libs` name import names).

use super::requirement::normalize;

/// Distributions whose import name differs from their (normalised) name.
/// Keys are PEP 503 normalised.
const KNOWN: &[(&str, &str)] = &[
    ("beautifulsoup4", "bs4"),
    ("biopython", "Bio"),
    ("faiss-cpu", "faiss"),
    ("faiss-gpu", "faiss"),
    ("gitpython", "git"),
    ("ipython", "IPython"),
    ("msgpack-python", "msgpack"),
    ("mysqlclient", "MySQLdb"),
    ("netcdf4", "netCDF4"),
    ("nvidia-ml-py", "pynvml"),
    ("opencv-contrib-python", "cv2"),
    ("opencv-contrib-python-headless", "cv2"),
    ("opencv-python", "cv2"),
    ("opencv-python-headless", "cv2"),
    ("pillow", "PIL"),
    ("protobuf", "google.protobuf"),
    ("psycopg2-binary", "psycopg2"),
    ("pycryptodome", "Crypto"),
    ("pyjwt", "jwt"),
    ("pymupdf", "fitz"),
    ("pyqt5", "PyQt5"),
    ("pyqt6", "PyQt6"),
    ("pyserial", "serial"),
    ("python-dateutil", "dateutil"),
    ("python-dotenv", "dotenv"),
    ("pytorch-lightning", "pytorch_lightning"),
    ("pyyaml", "yaml"),
    ("pyzmq", "zmq"),
    ("scikit-image", "skimage"),
    ("scikit-learn", "sklearn"),
    ("tensorflow-cpu", "tensorflow"),
    ("tensorflow-gpu", "tensorflow"),
];

/// The import name of a distribution, dotted when it lives inside a
/// namespace package: `beautifulsoup4` → `bs4`, `nvidia-cudnn-cu12` →
/// `nvidia.cudnn`; otherwise the normalised name with `-` → `_`.
pub fn import_name(dist_name: &str) -> String {
    let normalized = normalize(dist_name);
    if let Some((_, module)) = KNOWN.iter().find(|(dist, _)| *dist == normalized) {
        return (*module).to_string();
    }
    if let Some(component) = normalized.strip_prefix("nvidia-") {
        // NVIDIA's wheels share the `nvidia` namespace: nvidia/cudnn, nvidia/cuda_runtime …
        let component = strip_cuda_suffix(component);
        if !component.is_empty() {
            return format!("nvidia.{}", component.replace('-', "_"));
        }
    }
    normalized.replace('-', "_")
}

/// `cudnn-cu12` → `cudnn`.
fn strip_cuda_suffix(component: &str) -> &str {
    match component.rsplit_once("-cu") {
        Some((head, tail)) if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) => head,
        _ => component,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("beautifulsoup4", "bs4")]
    #[case("scikit-learn", "sklearn")]
    #[case("Scikit_Learn", "sklearn")]
    #[case("netcdf4", "netCDF4")]
    #[case("pyyaml", "yaml")]
    #[case("PyYAML", "yaml")]
    #[case("pillow", "PIL")]
    #[case("opencv-python", "cv2")]
    #[case("python-dateutil", "dateutil")]
    #[case("pybrain", "pybrain")]
    #[case("nvidia-cudnn-cu12", "nvidia.cudnn")]
    #[case("nvidia-cuda-runtime-cu12", "nvidia.cuda_runtime")]
    #[case("nvidia-nccl-cu11", "nvidia.nccl")]
    #[case("nvidia-ml-py", "pynvml")]
    #[case("nvidia-cusparselt-cu12", "nvidia.cusparselt")]
    #[case("torchvision", "torchvision")]
    #[case("typing-extensions", "typing_extensions")]
    #[case("Flask.SQLAlchemy", "flask_sqlalchemy")]
    #[case("xarray", "xarray")]
    fn maps_distributions_to_import_names(#[case] dist: &str, #[case] expected: &str) {
        assert_eq!(import_name(dist), expected);
    }
}
