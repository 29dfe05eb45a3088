// OpenJPEG 2.5 (JPEG 2000, ISO/IEC 15444-1), for PS3.5 A.4.4 (1.2.840.10008.1.2.4.90/91).
#include <openjpeg.h>
